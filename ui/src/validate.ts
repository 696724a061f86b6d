// Checks on the host form, done before calling Rust so mistakes are explained right away.
// The Rust side checks again; these only make the messages quicker and friendlier.

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

export const MAX_PASSWORD_CHARS = 128;

/** A port typed by a person: whole number from 1 to 65535. */
export function checkPort(input: string): Checked<number> {
  const text = input.trim();
  if (text === "") return { ok: false, message: "Enter a port number, for example 7777." };
  if (!/^\d+$/.test(text)) {
    return { ok: false, message: `"${text}" is not a port number. Use digits only, for example 7777.` };
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    return { ok: false, message: `${text} is not a port number. Use a number from 1 to 65535.` };
  }
  return { ok: true, value: port };
}

/** An optional password: empty means anyone on the network can join. */
export function checkPassword(input: string): Checked<string | null> {
  if (input === "") return { ok: true, value: null };
  if (input.trim() !== input) {
    return {
      ok: false,
      message: "The password starts or ends with a space. Remove it so people can type it reliably.",
    };
  }
  // Count characters, not UTF-16 units, so emoji count as one.
  if ([...input].length > MAX_PASSWORD_CHARS) {
    return { ok: false, message: `The password is too long. Use at most ${MAX_PASSWORD_CHARS} characters.` };
  }
  return { ok: true, value: input };
}
