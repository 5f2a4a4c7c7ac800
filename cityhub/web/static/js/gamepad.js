// A gamepad or PTZ joystick (the browser's Gamepad API) steering the PTZ pane's camera.
// Axes 0/1 pan and tilt; zoom on axis 3 (a second stick) when there is one, else axis 2 (a
// twist). Each axis has a dead zone with hysteresis (a stick resting near centre never
// twitches the motors) and an exponential curve for fine control near centre; pan and tilt
// slow down as the camera zooms in when the hub gives its zoom position. Buttons 0-8 go to
// presets 1-9, button 9 home. One gamepad is active at a time: the first one moved.

const POLL_MS = 50;
const ENGAGE = 0.15; // an axis leaves centre beyond this...
const RELEASE = 0.08; // ...and is back at centre below this
const CURVE = 2.5; // exponential response: 0 would be linear
const HOME_BUTTON = 9;
const PRESET_BUTTONS = 9;
const ZOOM_SLOWDOWN = 0.75; // at full zoom, pan and tilt run at a quarter of their speed

/** One axis: dead zone with hysteresis, then the exponential curve; -1..1. */
export class Axis {
  constructor(invert = false) {
    this.invert = invert;
    this.engaged = false;
  }

  value(raw) {
    const x = Number.isFinite(raw) ? Math.max(-1, Math.min(1, raw)) : 0;
    const size = Math.abs(x);
    if (this.engaged ? size < RELEASE : size <= ENGAGE) {
      this.engaged = false;
      return 0;
    }
    this.engaged = true;
    const linear = (size - RELEASE) / (1 - RELEASE);
    const curved = (Math.exp(CURVE * linear) - 1) / (Math.exp(CURVE) - 1);
    const signed = Math.sign(x) * Math.round(curved * 1000) / 1000;
    return this.invert ? -signed : signed;
  }

  reset() {
    this.engaged = false;
  }
}

export class GamepadControl {
  constructor(pane) {
    this.pane = pane;
    this.timer = null;
    this.active = null; // the index of the gamepad in use
    this.pan = new Axis();
    this.tilt = new Axis(true); // stick up is -1 on the Gamepad API, tilt up is +1 for the hub
    this.zoom = new Axis(true);
    this.pressed = [];
    this.off = true;
  }

  start() {
    if (this.timer || !navigator.getGamepads) return;
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.centre();
  }

  centre() {
    for (const axis of [this.pan, this.tilt, this.zoom]) axis.reset();
    if (!this.off) this.pane.drive("gamepad", null);
    this.off = true;
  }

  pick(pads) {
    const connected = pads.filter((p) => p && p.connected !== false);
    if (this.active !== null) {
      const current = connected.find((p) => p.index === this.active);
      if (current) return current;
      this.active = null;
      this.centre();
    }
    const moved = connected.find((p) => p.axes.some((a) => Math.abs(a) > ENGAGE)
      || p.buttons.some((b) => b && b.pressed));
    if (moved) this.active = moved.index;
    return moved || null;
  }

  poll() {
    let pads;
    try {
      pads = [...(navigator.getGamepads() || [])];
    } catch (err) {
      return; // refused by a permissions policy: nothing to read
    }
    const pad = this.pick(pads);
    if (!pad || !this.pane.camera) {
      if (!this.off) this.centre();
      this.pressed = [];
      return;
    }
    const axes = pad.axes;
    const zoomRaw = axes.length > 3 ? axes[3] : axes.length > 2 ? axes[2] : 0;
    const zoom = this.zoom.value(zoomRaw);
    let pan = this.pan.value(axes[0]);
    let tilt = this.tilt.value(axes[1]);
    const position = this.pane.status && this.pane.status.position;
    if (position && Number.isFinite(position.zoom)) {
      const scale = 1 - ZOOM_SLOWDOWN * Math.max(0, Math.min(1, position.zoom));
      pan *= scale;
      tilt *= scale;
    }
    if (pan || tilt || zoom) {
      this.off = false;
      this.pane.drive("gamepad", { pan, tilt, zoom });
    } else if (!this.off) {
      this.off = true;
      this.pane.drive("gamepad", null);
    }
    const buttons = pad.buttons.map((b) => Boolean(b && (b.pressed || b.value > 0.5)));
    buttons.forEach((down, index) => {
      if (!down || this.pressed[index]) return;
      if (index < PRESET_BUTTONS) this.pane.gotoPreset(index);
      else if (index === HOME_BUTTON) this.pane.oneShot({ command: "home" });
    });
    this.pressed = buttons;
  }
}
