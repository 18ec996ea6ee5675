/**
 * Pixels of one decoded image → the dataset's [H, W, C]: the channel count first (RGB → grey by
 * the ITU-R BT.601 luma weights, grey → RGB by repeating it, alpha dropped), then a bilinear
 * resize. The resize is a separable triangle filter on pixel centres: enlarging, each output pixel
 * blends the 2 × 2 nearest input pixels (the usual bilinear interpolation, edges clamped);
 * shrinking by a factor s, the triangle is widened to s pixels each way so that every input pixel
 * counts (no aliasing when a photo becomes 28 × 28), as Pillow's BILINEAR does.
 */

/** R, G, B weights of the luma an RGB pixel becomes in a grey image. */
export const LUMA = [0.299, 0.587, 0.114] as const;

/**
 * RGBA bytes (4 per pixel, as both decoders hand them back) → `channels` (1 or 3) values per
 * pixel, 0..255. A grey image decodes with R = G = B, so its luma is its grey value.
 */
export function toChannels(rgba: Uint8Array, pixels: number, channels: 1 | 3): Float32Array {
  if (rgba.length < pixels * 4) throw new Error(`toChannels: ${rgba.length} bytes for ${pixels} RGBA pixels`);
  const out = new Float32Array(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    const r = rgba[p * 4] as number;
    const g = rgba[p * 4 + 1] as number;
    const b = rgba[p * 4 + 2] as number;
    if (channels === 1) out[p] = LUMA[0] * r + LUMA[1] * g + LUMA[2] * b;
    else {
      out[p * 3] = r;
      out[p * 3 + 1] = g;
      out[p * 3 + 2] = b;
    }
  }
  return out;
}

/** For each output index along one axis: the first input index it reads and the weights from it. */
interface AxisTaps {
  first: Int32Array;
  weights: Float32Array[];
}

function axisTaps(inSize: number, outSize: number): AxisTaps {
  const ratio = inSize / outSize;
  const support = Math.max(1, ratio); // the triangle's half-width, in input pixels
  const first = new Int32Array(outSize);
  const weights: Float32Array[] = [];
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * ratio; // in input coordinates, where pixel i covers [i, i + 1)
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(inSize - 1, Math.ceil(centre + support));
    const w = new Float32Array(hi - lo + 1);
    let sum = 0;
    for (let i = lo; i <= hi; i++) {
      const v = Math.max(0, 1 - Math.abs(i + 0.5 - centre) / support);
      w[i - lo] = v;
      sum += v;
    }
    if (sum === 0) {
      // Cannot happen for sizes ≥ 1 (the nearest pixel is within the support); kept safe.
      w.fill(0);
      w[Math.min(w.length - 1, Math.max(0, Math.floor(centre) - lo))] = 1;
      sum = 1;
    }
    for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) / sum;
    first[o] = lo;
    weights.push(w);
  }
  return { first, weights };
}

/**
 * Resizes `pixels` (height × width × channels, row-major) to outHeight × outWidth, writing each
 * value times `scale` into `out` (outHeight × outWidth × channels), e.g. a shard's row with
 * scale 1/255 for values 0..1. The same size copies the values (times `scale`).
 */
export function resizeBilinear(
  pixels: Float32Array,
  size: { width: number; height: number; channels: number },
  outSize: { width: number; height: number },
  out: Float32Array,
  scale = 1,
): void {
  const { width, height, channels: c } = size;
  const { width: ow, height: oh } = outSize;
  if (pixels.length !== width * height * c)
    throw new Error(`resizeBilinear: ${pixels.length} values for ${height}×${width}×${c}`);
  if (out.length !== ow * oh * c)
    throw new Error(`resizeBilinear: out holds ${out.length}, not ${oh}×${ow}×${c}`);
  const xs = axisTaps(width, ow);
  const ys = axisTaps(height, oh);
  // Rows first: height × ow × c, then columns into `out`.
  const rows = new Float32Array(height * ow * c);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < ow; x++) {
      const w = xs.weights[x] as Float32Array;
      const base = (y * width + (xs.first[x] as number)) * c;
      for (let ch = 0; ch < c; ch++) {
        let v = 0;
        for (let k = 0; k < w.length; k++) v += (w[k] as number) * (pixels[base + k * c + ch] as number);
        rows[(y * ow + x) * c + ch] = v;
      }
    }
  for (let y = 0; y < oh; y++) {
    const w = ys.weights[y] as Float32Array;
    const from = ys.first[y] as number;
    for (let x = 0; x < ow; x++)
      for (let ch = 0; ch < c; ch++) {
        let v = 0;
        for (let k = 0; k < w.length; k++)
          v += (w[k] as number) * (rows[((from + k) * ow + x) * c + ch] as number);
        out[(y * ow + x) * c + ch] = v * scale;
      }
  }
}
