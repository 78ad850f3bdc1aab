/** The spike raster on a plain canvas: one pixel per (neuron, time step), scaled up by CSS. */

const POS = [207, 34, 46]; // +1: red
const NEG = [9, 105, 218]; // −1: blue
const BG = [246, 248, 250];

/** Draws time-major trains (trains[t * n + i]) as n columns × T rows; returns the number of spikes. */
export function drawRaster(canvas: HTMLCanvasElement, trains: Int8Array, T: number, n: number): number {
  if (canvas.width !== n || canvas.height !== T) {
    canvas.width = n;
    canvas.height = T;
  }
  canvas.style.setProperty('--rows', String(T));
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(n, T);
  let spikes = 0;
  for (let j = 0; j < T * n; j++) {
    const s = trains[j];
    const c = s > 0 ? POS : s < 0 ? NEG : BG;
    if (s) spikes++;
    img.data[4 * j] = c[0];
    img.data[4 * j + 1] = c[1];
    img.data[4 * j + 2] = c[2];
    img.data[4 * j + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  canvas.dataset.spikes = String(spikes);
  return spikes;
}

export function clearRaster(canvas: HTMLCanvasElement): void {
  canvas.width = 1;
  canvas.height = 1;
  canvas.style.setProperty('--rows', '1');
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = `rgb(${BG.join(',')})`;
  ctx.fillRect(0, 0, 1, 1);
  canvas.dataset.spikes = '0';
}
