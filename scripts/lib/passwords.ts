import { randomBytes } from "crypto";

/** 20 letters and digits (~119 bits): nothing a shell or a command-line parser reads as special. */
export function randomPassword(): string {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // 248 = 4 x 62: bytes above it are dropped so every character is equally likely.
    return Array.from(randomBytes(40))
        .filter(b => b < 248)
        .slice(0, 20)
        .map(b => alphabet[b % 62])
        .join("");
}
