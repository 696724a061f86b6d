// A browser guest in a voice channel with a native member. Chromium's fake microphone (a
// 400 Hz beep) goes to the native member; the native member's sine comes back, and a
// WebAudio analyser on the received track finds its frequency. Then the Rust test works
// the voice controls a guest has (mute, deafen, per-user volume, push-to-talk) one command
// at a time and checks what each does to the sound both ways.
//
// Printed lines (the protocol with the Rust test): "joined", "in voice", "peak <Hz>",
// "speaking <name>", "shot", then one answer per command read from standard input:
// "mute", "deafen", "volume <0..2>", "ptt <key code>", "press", "release" answer "ok";
// "output" answers "output <dB>", the level at the native sine's frequency in what the
// page plays. "done" ends the script. Usage: node voice.mjs <url> <shots>
import { runGuest, nextLine, recordRemoteTracks } from "../../../../tests/browser/guest.mjs";

const [url, shots] = process.argv.slice(2);

/**
 * Init script: every remote track goes to `window.__remoteTracks` (see guest.mjs), and
 * whatever the page plays (anything connected to an AudioContext's speakers) also feeds an
 * analyser in `window.__played`, so the test hears what the guest would hear.
 */
function tapPlayback() {
  window.__played = [];
  const connect = AudioNode.prototype.connect;
  const taps = new WeakMap();
  AudioNode.prototype.connect = function (destination, ...rest) {
    if (destination instanceof AudioDestinationNode) {
      let tap = taps.get(this.context);
      if (!tap) {
        tap = this.context.createAnalyser();
        tap.fftSize = 8192;
        tap.smoothingTimeConstant = 0;
        taps.set(this.context, tap);
        window.__played.push(tap);
      }
      connect.call(this, tap);
    }
    return connect.call(this, destination, ...rest);
  };
}

await runGuest(url, "guest", { initScript: `(${recordRemoteTracks})(); (${tapPlayback})();` }, async (page) => {
  await page.getByTestId("voice-voice").click();
  await page.getByTestId("voice-bar").waitFor();
  console.log("in voice");

  // The loudest frequency of the first remote audio track, measured for two seconds.
  const peak = await page.evaluate(async () => {
    const started = Date.now();
    let track;
    while (!(track = window.__remoteTracks.find((t) => t.kind === "audio"))) {
      if (Date.now() - started > 15000) throw new Error("no remote audio track");
      await new Promise((r) => setTimeout(r, 100));
    }
    const stream = new MediaStream([track]);
    // Chromium feeds a remote track to WebAudio only while a media element plays it too.
    const element = new Audio();
    element.muted = true;
    element.srcObject = stream;
    await element.play().catch(() => {});
    const context = new AudioContext();
    await context.resume();
    const analyser = context.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0;
    context.createMediaStreamSource(stream).connect(analyser);
    const bins = new Float32Array(analyser.frequencyBinCount);
    const votes = new Map();
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      analyser.getFloatFrequencyData(bins);
      let best = 0;
      for (let b = 1; b < bins.length; b++) if (bins[b] > bins[best]) best = b;
      if (bins[best] > -70) {
        const hz = Math.round((best * context.sampleRate) / analyser.fftSize);
        votes.set(hz, (votes.get(hz) ?? 0) + 1);
      }
    }
    const [hz] = [...votes.entries()].sort((a, b) => b[1] - a[1])[0] ?? [0];
    return hz;
  });
  console.log(`peak ${peak}`);

  // The page shows the native member speaking (its voice detection runs on what arrives).
  const speaker = await page.waitForFunction(
    () => document.querySelector("[data-testid=voice-member][data-speaking=true]")?.textContent?.trim(),
    null,
    { timeout: 15000 },
  );
  console.log(`speaking ${await speaker.jsonValue()}`);
  await page.screenshot({ path: `${shots}/browser-guest-voice.png` });
  console.log("shot");

  const native = page.getByTestId("member").filter({ hasText: "native" });
  let pttKey;
  for (;;) {
    const [command, argument] = (await nextLine()).split(" ");
    if (command === "done") break;
    if (command === "output") {
      console.log(`output ${await playedLevel(page, Number(argument))}`);
      continue;
    }
    if (command === "mute") await page.getByTestId("mute").click();
    else if (command === "deafen") await page.getByTestId("deafen").click();
    else if (command === "volume") {
      // The member's menu holds the slider, as a person would find it.
      await native.getByTestId("member-menu-button").click();
      await page.getByTestId("member-volume").fill(argument);
      await page.keyboard.press("Escape");
    } else if (command === "ptt") {
      // Pick the key in Settings, switch the voice bar to push-to-talk, and leave focus on
      // the page rather than in a text field (typing must not talk).
      await page.getByTestId("tab-settings").click();
      await page.getByTestId("ptt-capture").click();
      await page.keyboard.press(argument);
      await page.getByTestId("tab-room").click();
      await page.getByTestId("mode-ptt").click();
      await page.getByText(`Hold ${argument} to talk.`).waitFor();
      await page.locator("body").click({ position: { x: 5, y: 5 } });
      pttKey = argument;
    } else if (command === "press") await page.keyboard.down(pttKey);
    else if (command === "release") await page.keyboard.up(pttKey);
    else throw new Error(`unknown command ${command}`);
    console.log("ok");
  }
});


/**
 * The loudest level (dB) at `hz` in what the page played over one second, from half a
 * second on: the analyser's window (8192 samples) still holds what played before a change.
 */
async function playedLevel(page, hz) {
  return page.evaluate(async (hz) => {
    await new Promise((r) => setTimeout(r, 500));
    let loudest = -200;
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 100));
      for (const tap of window.__played) {
        const bins = new Float32Array(tap.frequencyBinCount);
        tap.getFloatFrequencyData(bins);
        const at = Math.round((hz * tap.fftSize) / tap.context.sampleRate);
        for (let b = at - 2; b <= at + 2; b++) if (Number.isFinite(bins[b])) loudest = Math.max(loudest, bins[b]);
      }
    }
    return Math.round(loudest);
  }, hz);
}
