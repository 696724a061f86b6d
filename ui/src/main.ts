import { getVersion } from "@tauri-apps/api/app";
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { describeStatus, errorMessage, type HostStatus } from "./host";
import { checkPassword, checkPort } from "./validate";
import "./style.css";

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html is missing #${id}`);
  return found as T;
}

const form = element<HTMLFormElement>("host-form");
const portInput = element<HTMLInputElement>("port");
const passwordInput = element<HTMLInputElement>("password");
const startButton = element<HTMLButtonElement>("start");
const stopButton = element<HTMLButtonElement>("stop");
const errorLine = element<HTMLParagraphElement>("error");
const statusText = element<HTMLSpanElement>("status-text");
const statusDot = element<HTMLSpanElement>("status-dot");

// True while a start or stop is in flight, so a double click cannot send two.
let busy = false;
let current: HostStatus = { state: "stopped", lastError: null };

function showError(message: string | null): void {
  errorLine.textContent = message ?? "";
  errorLine.hidden = message === null;
}

function render(): void {
  const running = current.state === "running";
  statusText.textContent = describeStatus(current);
  statusDot.classList.toggle("on", running);
  portInput.disabled = running || busy;
  passwordInput.disabled = running || busy;
  startButton.disabled = running || busy;
  stopButton.disabled = !running || busy;
}

function apply(status: HostStatus): void {
  current = status;
  render();
}

async function run(action: () => Promise<HostStatus>): Promise<void> {
  busy = true;
  showError(null);
  render();
  try {
    apply(await action());
  } catch (e) {
    showError(errorMessage(e));
  } finally {
    busy = false;
    render();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const port = checkPort(portInput.value);
  if (!port.ok) return showError(port.message);
  const password = checkPassword(passwordInput.value);
  if (!password.ok) return showError(password.message);
  void run(() => invoke<HostStatus>("host_start", { port: port.value, password: password.value }));
});

stopButton.addEventListener("click", () => {
  void run(() => invoke<HostStatus>("host_stop"));
});

async function init(): Promise<void> {
  try {
    element("version").textContent = `version ${await getVersion()}`;
    // Subscribe before asking for the status so a change in between is not missed.
    await listen<HostStatus>("host-status", (event) => apply(event.payload));
    apply(await invoke<HostStatus>("host_status"));
  } catch (e) {
    showError(`Could not reach the Hearth app. ${errorMessage(e)}`);
  }
}

render();
void init();
