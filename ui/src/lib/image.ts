// Images for chat: reading a pasted or dropped file into the protocol's Image (base64), with
// the same checks the server makes, so the user hears about a problem before sending.

import type { Image } from "../ipc/types";

/** The image types the protocol allows. The generated Image has `mime: string`. */
export const IMAGE_MIMES = ["image/png", "image/jpeg", "image/gif", "image/webp"] as const;
export type ImageMime = (typeof IMAGE_MIMES)[number];

export function isImageMime(mime: string): mime is ImageMime {
  return (IMAGE_MIMES as readonly string[]).includes(mime);
}
/** The protocol's default max_image_bytes (256 KiB, decoded). */
export const MAX_IMAGE_BYTES = 262144;

export type ImageResult = { ok: true; image: Image; size: number } | { ok: false; message: string };

export function checkImageFile(type: string, size: number, limit = MAX_IMAGE_BYTES): string | null {
  if (!isImageMime(type)) {
    return "Only PNG, JPEG, GIF and WebP pictures can be sent.";
  }
  if (size > limit) {
    return `That picture is ${Math.ceil(size / 1024)} KiB; the most a message can carry is ${Math.floor(limit / 1024)} KiB.`;
  }
  return null;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

export async function readImage(file: Blob, limit = MAX_IMAGE_BYTES): Promise<ImageResult> {
  const problem = checkImageFile(file.type, file.size, limit);
  if (problem) return { ok: false, message: problem };
  const bytes = new Uint8Array(await file.arrayBuffer());
  return { ok: true, image: { mime: file.type, data: bytesToBase64(bytes) }, size: bytes.length };
}

/** A data: URL for an <img src>, only for the four image types (never user-chosen markup). */
export function imageUrl(image: Image): string | null {
  if (!isImageMime(image.mime)) return null;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(image.data)) return null;
  return `data:${image.mime};base64,${image.data}`;
}
