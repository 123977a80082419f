// Debian's headless Chromium through playwright-core, with the flags this project's machines
// need: no sandbox (root), no GPU, and no background traffic (the network is closed, and
// Chromium's own connections would otherwise be refused many at a time). CHROMIUM overrides the
// binary.
import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}
