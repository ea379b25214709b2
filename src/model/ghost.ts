// Ghost clipping for the DP critic step: per-example gradient norms and clipped gradient sums of the MLP critics
// (WGAN-GP loss with its gradient penalty) from per-example activations and adjoints, never per-example gradients.
import { add, cast, concat, div, greater, matmul, max, mul, reduceSum, relu, reshape, slice, sqrt, square, stopGradient, sub, transpose, unsqueeze } from '../graph/api.js';
import { grad } from '../graph/autodiff.js';
import type { Value } from '../graph/ir.js';
import type { NetContext } from './networks.js';
import { layoutWidth } from './layout.js';

/**
 * One use of a weight W [in, out] in a product, seen per example: example i's gradient of W from it is the outer
 * product aᵢ ⊗ vᵢ (a [N, in], v [N, out]). For Y = X·W: a = X, v = ∂ℓ/∂Y; for Y = U·Wᵀ: a = ∂ℓ/∂Y, v = U.
 */
interface Use {
  a: Value;
  v: Value;
}

interface Mlp {
  ws: Value[];
  bs: Value[];
  names: { w: string; b: string }[];
}

function mlpParams(ctx: NetContext, scope: string, layers: number): Mlp {
  const names = [...Array.from({ length: layers }, (_, i) => `${scope}/l${i}`), `${scope}/out`].map((s) => ({ w: `${s}/W`, b: `${s}/b` }));
  const get = (n: string): Value => ctx.params.get(n)!;
  return { ws: names.map((n) => get(n.w)), bs: names.map((n) => get(n.b)), names };
}

/** The critic's forward pass keeping every pre-activation z_l (the last one is the output [N, 1]). */
function forward(m: Mlp, x: Value): { hs: Value[]; zs: Value[] } {
  const hs = [x];
  const zs: Value[] = [];
  m.ws.forEach((w, l) => {
    const z = add(matmul(hs[l]!, w), m.bs[l]!);
    zs.push(z);
    if (l < m.ws.length - 1) hs.push(relu(z));
  });
  return { hs, zs };
}

/**
 * ∂D/∂x at x̂ written out as ops (what grad() would build): g_L = 1·W_outᵀ, then u_l = g_{l+1} ⊙ 1[z_l > 0] and
 * g_l = u_l·W_lᵀ. ReLU's mask has no gradient (as in the Relu rule), so x̂'s forward products do not reach the loss.
 * Returns g_0 and, per layer, the backward product's input u and output g (for the W uses).
 */
function inputGradient(m: Mlp, xh: Value): { g0: Value; back: { u: Value; g: Value }[] } {
  const { zs } = forward(m, xh);
  const L = m.ws.length - 1;
  const ones = stopGradient(add(mul(slice(xh, [0], [1], [1]), 0), 1)); // [N, 1]
  const back: { u: Value; g: Value }[] = new Array(L + 1);
  let g = matmul(ones, transpose(m.ws[L]!));
  back[L] = { u: ones, g };
  for (let l = L - 1; l >= 0; l--) {
    const mask = stopGradient(cast(greater(zs[l]!, 0), 'float32'));
    const u = mul(g, mask);
    g = matmul(u, transpose(m.ws[l]!));
    back[l] = { u, g };
  }
  return { g0: g, back };
}

/** Everything a ghost-clipped critic contributes: per-example losses and, per param, its uses (W) or row sums (b). */
interface CriticTerms {
  loss: Value; // [N]
  /** After grad(): the per-param uses, in the param order of `names`. */
  finish(adj: Map<number, Value>): { name: string; uses?: Use[]; bias?: Value }[];
  wrt: Value[];
}

function criticTerms(m: Mlp, real: Value, fake: Value, alpha: Value, gpCoe: number): CriticTerms {
  const fr = forward(m, real);
  const ff = forward(m, fake);
  const xh = add(real, mul(alpha, sub(fake, real)));
  const ig = inputGradient(m, xh);
  const slopes = sqrt(add(reduceSum(square(ig.g0), [1]), 1e-8));
  const flat = (v: Value): Value => reshape(v, [-1]);
  const loss = add(sub(flat(ff.zs.at(-1)!), flat(fr.zs.at(-1)!)), mul(square(sub(slopes, 1)), gpCoe));
  const wrt = [...fr.zs, ...ff.zs, ...ig.back.map((b) => b.g)];
  return {
    loss,
    wrt,
    finish(adj) {
      const d = (v: Value): Value => adj.get(v.id)!;
      return m.names.flatMap((n, l) => {
        const uses: Use[] = [
          { a: fr.hs[l]!, v: d(fr.zs[l]!) },
          { a: ff.hs[l]!, v: d(ff.zs[l]!) },
          { a: d(ig.back[l]!.g), v: ig.back[l]!.u },
        ];
        return [{ name: n.w, uses }, { name: n.b, bias: add(d(fr.zs[l]!), d(ff.zs[l]!)) }];
      });
    },
  };
}

/**
 * Ghost clipping of DP-SGD's critic step (Goodfellow 2015; Li et al. 2022 "ghost clipping"; extended here to the
 * gradient penalty): example i's gradient of a weight is Σₖ aₖᵢ ⊗ vₖᵢ over the weight's products (real and fake
 * forward, and the penalty's backward product), so ‖gᵢ‖² = Σₖₖ' (aₖᵢ·aₖ'ᵢ)(vₖᵢ·vₖ'ᵢ) and the clipped sum is
 * Σₖ aₖᵀ·diag(c)·vₖ — products of [N, in] and [N, out] matrices, no [N, in, out] tensor. The per-example loss is the
 * one criticLossesPerExample builds (both critics, both penalties), so the result equals the tiling path's
 * (tests/model/dp.test.ts). Returns the clipped gradient sums of `names` (in that order), un-noised, and the per-example
 * clip factors c [N] (weights applied).
 */
export function ghostClippedSums(
  ctx: NetContext,
  x: { realAttr: Value; realFeat: Value; alpha: Value; alphaAttr: Value },
  fake: { attr: Value; feat: Value },
  clip: number,
  weights: Value,
  names: readonly string[],
): Value[] {
  const { cfg, layout } = ctx;
  const F2 = layoutWidth(layout.features) + 2;
  const flatIn = (feat: Value, attr: Value): Value => concat([reshape(feat, [-1, layout.maxLen * F2]), attr], 1);
  const terms = [
    criticTerms(mlpParams(ctx, 'disc', cfg.discLayers), flatIn(x.realFeat, x.realAttr), flatIn(fake.feat, fake.attr), x.alpha, cfg.gpCoe),
  ];
  if (cfg.useAttrDiscriminator) terms.push(criticTerms(mlpParams(ctx, 'attr_disc', cfg.attrDiscLayers), x.realAttr, fake.attr, x.alphaAttr, cfg.attrGpCoe));
  const loss = terms.map((t) => t.loss).reduce((a, b) => add(a, b));
  const wrt = terms.flatMap((t) => t.wrt);
  const adjs = grad(reduceSum(loss), wrt, { scope: 'ghost_grad' });
  const adj = new Map(wrt.map((w, i) => [w.id, adjs[i]!]));
  const parts = terms.flatMap((t) => t.finish(adj));
  const dot = (p: Value, q: Value): Value => reduceSum(mul(p, q), [1]); // row-wise [N]
  const normSq = parts
    .map((p) => {
      if (p.bias) return reduceSum(square(p.bias), [1]);
      const u = p.uses!;
      let s: Value | null = null;
      for (let k = 0; k < u.length; k++) {
        for (let j = k; j < u.length; j++) {
          const t = mul(dot(u[k]!.a, u[j]!.a), dot(u[k]!.v, u[j]!.v));
          const tt = j === k ? t : mul(t, 2);
          s = s ? add(s, tt) : tt;
        }
      }
      return s!;
    })
    .reduce((a, b) => add(a, b));
  const norm = sqrt(normSq);
  const c = mul(div(1, max(div(norm, clip), 1)), weights); // [N]
  const cc = unsqueeze(c, [1]);
  const sums = new Map<string, Value>();
  for (const p of parts) {
    if (p.bias) sums.set(p.name, reduceSum(mul(p.bias, cc), [0]));
    else sums.set(p.name, p.uses!.map((u) => matmul(transpose(u.a), mul(u.v, cc))).reduce((a, b) => add(a, b)));
  }
  return names.map((n) => sums.get(n)!);
}
