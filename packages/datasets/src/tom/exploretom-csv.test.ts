import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadExploreTomCsv, parseExploreTomCsv } from "./exploretom-csv.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/exploretom/${name}`, import.meta.url));

describe("ExploreToM CSV loader", () => {
  it("reads the released column layout, with quoted multi-line stories", () => {
    const { records, skipped } = loadExploreTomCsv(fixture("sample.csv"));
    expect(skipped.count).toBe(0);
    expect(records).toHaveLength(3);
    expect(records[0]).toMatchObject({
      id: "exploretom:sample:0",
      question: "In which container will Anne search for the apple?",
      expectedAnswer: "basket",
      questionParams: "('apple', 'container_location', 'Anne')",
      nthOrder: 1,
      nonUniqueMentalState: true,
      isFalseBeliefStoryFirstOrder: true,
      isFalseBeliefStoryFirstAndSecondOrder: true,
      storyType: "tomi",
      numPeople: 2,
      numMoves: 1,
      numRooms: 1,
      line: 2,
    });
    expect(records[0]!.story).toBe("Anne walked into the kitchen, where an apple sat in the basket.\nBob came in, too. After Anne left, Bob quietly put the apple into the box.");
    expect(records[0]!.storyStructure).toContain("Bob moved the apple to the box, which is also located in the kitchen.");
    // Empty infilled_story falls back to the structure; the row after a two-line row starts on line 4.
    expect(records[1]).toMatchObject({ story: "Anne entered the kitchen. The apple is in the basket.", infilledStory: null, nthOrder: -1, line: 4 });
    expect(records[2]!.story).toBe('Carla whispered to Dan: "there is a surprise party, don\'t tell anyone."');
  });

  it("errors name file and line; skipInvalid skips and counts", () => {
    const path = fixture("malformed.csv");
    expect(() => loadExploreTomCsv(path)).toThrow(`${path}:3: expected 4 fields, found 3`);
    const { records, skipped } = loadExploreTomCsv(path, { skipInvalid: true });
    expect(records.map((record) => record.expectedAnswer)).toEqual(["kitchen", "attic"]);
    expect(records[1]!.story).toBe('Dan entered the "attic.');
    expect(skipped.count).toBe(3);
    expect(skipped.errors.map((error) => error.message)).toEqual([
      `${path}:3: expected 4 fields, found 3`,
      `${path}:4: column qprop=nth_order: expected an integer, got "first"`,
      `${path}:6: empty question`,
    ]);
  });

  it("a malformed quote is a file error even with skipInvalid (records cannot be delimited)", () => {
    expect(() => parseExploreTomCsv('story_structure,question,expected_answer\n"a"b,q,x\n', "f.csv", { skipInvalid: true })).toThrow(/f\.csv:2/);
  });

  it("checks the header and required cells", () => {
    expect(() => parseExploreTomCsv("", "e.csv")).toThrow("e.csv:1: empty file");
    expect(() => parseExploreTomCsv("story_structure,question\n", "h.csv")).toThrow('h.csv:1: missing column "expected_answer"');
    expect(() => parseExploreTomCsv("question,expected_answer\n", "h.csv")).toThrow(/missing column "infilled_story" or "story_structure"/);
    expect(() => parseExploreTomCsv("story_structure,question,expected_answer\ns,,x\n", "r.csv")).toThrow("r.csv:2: empty question");
    expect(() => loadExploreTomCsv("/nonexistent/file.csv")).toThrow(/not found/);
  });

  it("limit keeps the first records", () => {
    expect(loadExploreTomCsv(fixture("sample.csv"), { limit: 2 }).records).toHaveLength(2);
  });
});
