// What the Rust side sends back. Kept in step with src-tauri/src/host.rs by hand: the shapes
// are small and the Rust tests pin the JSON.

export type HostStatus =
  | { state: "stopped"; lastError: string | null }
  | {
      state: "running";
      address: string;
      port: number;
      lanAddress: string | null;
      passwordProtected: boolean;
    };

/** The error object every command rejects with. */
export interface CommandError {
  code: string;
  message: string;
}

function isCommandError(e: unknown): e is CommandError {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as CommandError).code === "string" &&
    typeof (e as CommandError).message === "string"
  );
}

/** Turns whatever a command rejected with into a sentence for the user. */
export function errorMessage(e: unknown): string {
  if (isCommandError(e)) return e.message;
  // Tauri itself rejects with a bare string when, for example, arguments do not deserialize.
  if (typeof e === "string" && e.length > 0) return `Something went wrong: ${e}`;
  if (e instanceof Error) return `Something went wrong: ${e.message}`;
  return "Something went wrong.";
}

/** One line describing the status, for the status bar. */
export function describeStatus(status: HostStatus): string {
  if (status.state === "stopped") {
    return status.lastError ? `Not hosting. ${status.lastError}` : "Not hosting.";
  }
  const lock = status.passwordProtected ? "with a password" : "without a password";
  const where = status.lanAddress
    ? `Others can join at ${status.lanAddress}.`
    : `Others can join on port ${status.port} of this computer.`;
  return `Hosting on ${status.address}, ${lock}. ${where}`;
}
