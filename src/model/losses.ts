// WGAN-GP losses of DoppelGANger (spec §3.2): D and attr-D critics with gradient penalty, generator loss.
import { add, concat, mul, neg, reduceMean, reshape, split, reduceSum, sqrt, square, stopGradient, sub, unsqueeze } from '../graph/api.js';
import { grad } from '../graph/autodiff.js';
import type { Graph, Value } from '../graph/ir.js';
import {
  attributeGenerator, attrDiscriminator, discriminator, featureGenerator, type NetContext,
} from './networks.js';
import { layoutWidth } from './layout.js';

/** Batch-level graph inputs shared by the training graphs (names are the feed names). */
export interface StepInputs {
  realAttr: Value; // [B, A]
  realFeat: Value; // [B, T, F + 2]
  zAttr: Value; // [B, Za]
  zFeat: Value; // [B, S, Zf]
  h0: Value; // [B, U]
  c0: Value; // [B, U]
  alpha: Value; // [B, 1]  GP interpolation weight, U(0,1) per example
  alphaAttr: Value; // [B, 1]
}

export const INPUT_NAMES = ['real_attr', 'real_feat', 'z_attr', 'z_feat', 'h0', 'c0', 'alpha', 'alpha_attr'] as const;

/** Declares the named inputs; `prefix` goes before each feed name (a fused iteration has one h0 per step: `d0/h0`, …). */
export function stepInputs(ctx: NetContext, batch: number | string, which: readonly (typeof INPUT_NAMES)[number][], prefix = ''): Partial<StepInputs> {
  const { g, cfg, layout } = ctx;
  const A = layoutWidth(layout.attributes);
  const F2 = layoutWidth(layout.features) + 2;
  const S = layout.maxLen / cfg.sampleLen;
  const shapes: Record<(typeof INPUT_NAMES)[number], (number | string)[]> = {
    real_attr: [batch, A],
    real_feat: [batch, layout.maxLen, F2],
    z_attr: [batch, cfg.attributeNoiseDim],
    z_feat: [batch, S, cfg.featureNoiseDim],
    h0: [batch, cfg.lstmUnits],
    c0: [batch, cfg.lstmUnits],
    alpha: [batch, 1],
    alpha_attr: [batch, 1],
  };
  const key: Record<(typeof INPUT_NAMES)[number], keyof StepInputs> = {
    real_attr: 'realAttr', real_feat: 'realFeat', z_attr: 'zAttr', z_feat: 'zFeat', h0: 'h0', c0: 'c0', alpha: 'alpha', alpha_attr: 'alphaAttr',
  };
  const out: Partial<StepInputs> = {};
  for (const name of which) out[key[name]] = g.input(`${prefix}${name}`, shapes[name]);
  return out;
}

/** Generator forward in training mode: soft attributes and masked features (spec §3.1). */
export function generate(ctx: NetContext, x: Pick<StepInputs, 'zAttr' | 'zFeat' | 'h0' | 'c0'>, batch: number | string): { attr: Value; feat: Value } {
  const a = attributeGenerator(ctx, x.zAttr);
  const f = featureGenerator(ctx, a.discrete, x.zFeat, x.h0, x.c0, batch);
  return { attr: a.attributes, feat: f.masked };
}

/**
 * The fake batches of several critic steps that share G's params and z but not the LSTM's initial state
 * (a fused iteration's dRounds steps): the attribute generator runs once (its BatchNorm running stats advance
 * once per step's update count, as if run per step), the feature generator once on the R·B rows stacked
 * [h0 of step 0; h0 of step 1; …] (the attribute and noise projections once, broadcast over the R copies), so each
 * LSTM step is one [R·B, U] product instead of R [B, U] ones. Row by row this is the same computation as R calls
 * of generate(), so the values are the same.
 */
export function generateRounds(ctx: NetContext, x: Pick<StepInputs, 'zAttr' | 'zFeat'>, h0s: readonly Value[], c0s: readonly Value[], batch: number): { attr: Value; feat: Value }[] {
  const R = h0s.length;
  const a = attributeGenerator({ ...ctx, bnUpdates: (ctx.bnUpdates ?? 1) * R }, x.zAttr);
  const f = featureGenerator(ctx, a.discrete, x.zFeat, concat(h0s, 0), concat(c0s, 0), batch, R);
  const feats = R === 1 ? [f.masked] : split(f.masked, new Array<number>(R).fill(batch), 0);
  return feats.map((feat) => ({ attr: a.attributes, feat }));
}

/**
 * WGAN-GP penalty: x̂ = real + α·(fake − real) per example (α ~ U(0,1), fed), slopes = sqrt(Σ(∂D/∂x̂)² + 1e-8),
 * GP = mean((slopes − 1)²). The gradient is built with grad(), so differentiating the penalty w.r.t. the
 * critic's parameters is a double backward.
 */
function gradientPenalty(g: Graph, critic: (xs: Value[]) => Value, real: Value[], fake: Value[], alpha: Value, perExample = false): Value {
  return g.scope('gp', () => {
    const interp = real.map((r, i) => {
      const al = r.shape.length === 3 ? unsqueeze(alpha, [2]) : alpha; // [B,1] → [B,1,1] over [B,T,F]
      return add(r, mul(al, sub(fake[i]!, r)));
    });
    const out = critic(interp);
    const grads = grad(reduceSum(out), interp, { scope: 'gp_grad' });
    let ss: Value | null = null;
    for (const d of grads) {
      const axes = d.shape.map((_, i) => i).slice(1);
      const s = reduceSum(square(d), axes);
      ss = ss ? add(ss, s) : s;
    }
    const slopes = sqrt(add(ss!, 1e-8));
    const each = square(sub(slopes, 1)); // [B]
    return perExample ? each : reduceMean(each);
  });
}

export interface DLosses {
  dLoss: Value;
  attrDLoss: Value | null;
  gp: Value;
  attrGp: Value | null;
  /** W-distance estimates mean D(real) − mean D(fake). */
  wDist: Value;
}

/** Critic losses on a batch: the generator's output (`fake`, or generated here from x) is a constant (stop-gradient). */
export function criticLosses(ctx: NetContext, x: StepInputs, batch: number, fakeIn?: { attr: Value; feat: Value }): DLosses {
  const { g, cfg } = ctx;
  const fake = fakeIn ?? g.scope('fake', () => generate(ctx, x, batch));
  const fAttr = stopGradient(fake.attr);
  const fFeat = stopGradient(fake.feat);
  const D = (xs: Value[]): Value => discriminator(ctx, xs[0]!, xs[1]!, batch);
  const dReal = g.scope('d_real', () => D([x.realFeat, x.realAttr]));
  const dFake = g.scope('d_fake', () => D([fFeat, fAttr]));
  const gp = gradientPenalty(g, D, [x.realFeat, x.realAttr], [fFeat, fAttr], x.alpha);
  const wDist = sub(reduceMean(dReal), reduceMean(dFake));
  const dLoss = add(neg(wDist), mul(gp, cfg.gpCoe));
  if (!cfg.useAttrDiscriminator) return { dLoss, attrDLoss: null, gp, attrGp: null, wDist };
  const AD = (xs: Value[]): Value => attrDiscriminator(ctx, xs[0]!);
  const aReal = g.scope('ad_real', () => AD([x.realAttr]));
  const aFake = g.scope('ad_fake', () => AD([fAttr]));
  const attrGp = gradientPenalty(g, AD, [x.realAttr], [fAttr], x.alphaAttr);
  const attrDLoss = add(sub(reduceMean(aFake), reduceMean(aReal)), mul(attrGp, cfg.attrGpCoe));
  return { dLoss, attrDLoss, gp, attrGp, wDist };
}

/**
 * DP-SGD's per-example, un-averaged critic losses (spec §3.5, TF's d_loss_unflattened): for example i,
 * ℓᵢ = D(fakeᵢ) − D(realᵢ) + λ·(‖∇D(x̂ᵢ)‖ − 1)² + [A(fakeᵢ) − A(realᵢ) + λₐ·(‖∇A(âᵢ)‖ − 1)²] with the attribute critic.
 * `ctx.params` may hold per-example (tiled) critic params: example i's terms read only row i of them (and fakeᵢ, x̂ᵢ
 * only row i of the data), so ∂(Σᵢ ℓᵢ)/∂(tiled row i) is example i's gradient, gradient penalty included (a double
 * backward). Returns ℓ [B].
 */
export function criticLossesPerExample(ctx: NetContext, x: StepInputs, batch: number | string, fake: { attr: Value; feat: Value }): Value {
  const { g, cfg } = ctx;
  const fAttr = stopGradient(fake.attr);
  const fFeat = stopGradient(fake.feat);
  const flat = (v: Value): Value => reshape(v, [-1]);
  const D = (xs: Value[]): Value => discriminator(ctx, xs[0]!, xs[1]!, batch);
  const dReal = g.scope('d_real', () => flat(D([x.realFeat, x.realAttr])));
  const dFake = g.scope('d_fake', () => flat(D([fFeat, fAttr])));
  const gp = gradientPenalty(g, (xs) => D(xs), [x.realFeat, x.realAttr], [fFeat, fAttr], x.alpha, true);
  let loss = add(sub(dFake, dReal), mul(gp, cfg.gpCoe));
  if (!cfg.useAttrDiscriminator) return loss;
  const AD = (xs: Value[]): Value => attrDiscriminator(ctx, xs[0]!);
  const aReal = g.scope('ad_real', () => flat(AD([x.realAttr])));
  const aFake = g.scope('ad_fake', () => flat(AD([fAttr])));
  const attrGp = gradientPenalty(g, AD, [x.realAttr], [fAttr], x.alphaAttr, true);
  loss = add(loss, add(sub(aFake, aReal), mul(attrGp, cfg.attrGpCoe)));
  return loss;
}

/** L_G = −mean D(fake) + g_attr_d_coe · (−mean D_attr(fake_attr)). */
export function generatorLoss(ctx: NetContext, x: Pick<StepInputs, 'zAttr' | 'zFeat' | 'h0' | 'c0'>, batch: number): Value {
  const { g, cfg } = ctx;
  const fake = g.scope('fake', () => generate(ctx, x, batch));
  const dFake = g.scope('d_fake', () => discriminator(ctx, fake.feat, fake.attr, batch));
  let loss = neg(reduceMean(dFake));
  if (cfg.useAttrDiscriminator) {
    const aFake = g.scope('ad_fake', () => attrDiscriminator(ctx, fake.attr));
    loss = add(loss, mul(neg(reduceMean(aFake)), cfg.gAttrDCoe));
  }
  return loss;
}
