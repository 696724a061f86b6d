// A browser guest in a voice channel with a native member. Chromium's fake microphone (a
// 400 Hz beep) goes to the native member; the native member's sine comes back, and a
// WebAudio analyser on the received track finds its frequency. Printed lines (the protocol
// with the Rust test): "joined", "in voice", "peak <Hz>", "speaking <name>", "shot"; the
// test says "done" when it has heard enough. Usage: node voice.mjs <url> <shots>
import { runGuest, nextLine, recordRemoteTracks } from "../../../../tests/browser/guest.mjs";

const [url, shots] = process.argv.slice(2);
await runGuest(url, "guest", { initScript: recordRemoteTracks }, async (page) => {
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
  // Keep the microphone on until the native member has heard enough.
  await nextLine();
});
