// Where(cond, a, b): elementwise select with broadcasting.
import { GraphError } from '../ir.js';
import { mapBroadcast } from '../tensor.js';
import { broadcastDims, type OpDef } from './op.js';

export const Where: OpDef = {
  type: 'Where',
  attrTypes: {},
  infer([c, a, b]) {
    if (c!.dtype !== 'bool') throw new GraphError(`Where condition must be bool (${c!.name})`);
    if (a!.dtype !== b!.dtype) throw new GraphError(`Where branches differ in dtype (${a!.name}, ${b!.name})`);
    return [{ dtype: a!.dtype, shape: broadcastDims([c!.shape, a!.shape, b!.shape], 'Where') }];
  },
  ref([c, a, b]) {
    return [mapBroadcast([c!, a!, b!], a!.dtype, (cv, av, bv) => (cv ? av : bv))];
  },
};
