// Reads the capture clock the virtual camera burns into its pictures (see the docstring of
// cityhub_virtual/clock.py for the layout): a band of 35 black and white cells near the
// bottom; cells 0 and 1 are the white and black guards, 2..33 the 32 bits of the capture
// time in ms (mod 2^32, most significant first), 34 an even parity bit.

const BAND_LEFT = 0.04;
const BAND_RIGHT = 0.96;
const BAND_TOP = 0.85;
const BAND_BOTTOM = 0.96;
const CELLS = 35;
const BITS = 32;
const MIN_CONTRAST = 64;
const AMBIGUITY = 0.25;
const MODULO = 2 ** 32;

/** The rectangle of the band in a ``width`` x ``height`` picture: [x, y, w, h] in pixels. */
export function bandRect(width, height) {
  const x = Math.floor(BAND_LEFT * width);
  const y = Math.floor(BAND_TOP * height);
  return [x, y, Math.ceil(BAND_RIGHT * width) - x, Math.ceil(BAND_BOTTOM * height) - y];
}

/**
 * Decode the clock from ``image`` (an ImageData of the band's rectangle, as bandRect gives
 * it, taken from a ``width`` x ``height`` frame): ``ms mod 2^32``, or null when unreadable.
 */
export function readClock(image, width, height) {
  const [originX, originY] = bandRect(width, height);
  const step = (BAND_RIGHT - BAND_LEFT) / CELLS;
  const levels = [];
  for (let i = 0; i < CELLS; i++) {
    const left = (BAND_LEFT + i * step) * width;
    const right = (BAND_LEFT + (i + 1) * step) * width;
    const top = BAND_TOP * height;
    const bottom = BAND_BOTTOM * height;
    const qw = (right - left) / 4;
    const qh = (bottom - top) / 4;
    const x0 = Math.round(left + qw);
    const y0 = Math.round(top + qh);
    const x1 = Math.max(Math.round(right - qw), x0 + 1);
    const y1 = Math.max(Math.round(bottom - qh), y0 + 1);
    let sum = 0;
    let count = 0;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const px = x - originX;
        const py = y - originY;
        if (px < 0 || py < 0 || px >= image.width || py >= image.height) continue;
        const o = (py * image.width + px) * 4;
        sum += 0.299 * image.data[o] + 0.587 * image.data[o + 1] + 0.114 * image.data[o + 2];
        count++;
      }
    }
    if (!count) return null;
    levels.push(sum / count);
  }
  const white = levels[0];
  const black = levels[1];
  const contrast = white - black;
  if (contrast < MIN_CONTRAST) return null;
  const threshold = (white + black) / 2;
  const margin = contrast * AMBIGUITY;
  let ones = 0;
  let value = 0;
  for (let i = 2; i < CELLS; i++) {
    if (Math.abs(levels[i] - threshold) < margin) return null;
    const bit = levels[i] > threshold ? 1 : 0;
    ones += bit;
    if (i < 2 + BITS) value = value * 2 + bit;
  }
  if (ones % 2 !== 0) return null;
  return value;
}

/** The time in ms whose low 32 bits are ``value`` and nearest ``referenceMs``. */
export function unwrapClock(value, referenceMs) {
  const base = referenceMs - (referenceMs % MODULO);
  const candidates = [base - MODULO + value, base + value, base + MODULO + value];
  return candidates.reduce((a, b) => (Math.abs(b - referenceMs) < Math.abs(a - referenceMs) ? b : a));
}
