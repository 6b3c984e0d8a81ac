import { describe, expect, it } from "vitest";
import { logTail } from "../src/format";

describe("the end of a long log", () => {
  it("is counted in bytes, not characters", () => {
    const text = "é".repeat(10); // 20 bytes in UTF-8
    expect(logTail(text, 100)).toEqual({ shown: text, size: 20, cut: false });
    const tail = logTail(text, 7);
    expect(tail.size).toBe(20);
    expect(tail.cut).toBe(true);
    expect(tail.shown).toBe("ééé"); // 6 bytes: the cut never splits a character
  });
});
