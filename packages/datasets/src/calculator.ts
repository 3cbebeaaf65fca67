// Evaluates GSM8K calculator annotations `<<expression=result>>` so that worked solutions can be
// checked: numbers, + − * /, unary minus and parentheses, standard precedence.

/** Value of an arithmetic expression such as `16-3-4` or `(2+3)*4/5`; throws on anything else. */
export function evaluateArithmetic(expression: string): number {
  const source = expression.replace(/\s+/g, "");
  let position = 0;

  const fail = (problem: string): never => {
    throw new Error(`evaluateArithmetic: ${problem} at position ${position} in ${JSON.stringify(expression)}`);
  };
  const parseExpression = (): number => {
    let value = parseTerm();
    while (source[position] === "+" || source[position] === "-") {
      const operator = source[position++];
      const right = parseTerm();
      value = operator === "+" ? value + right : value - right;
    }
    return value;
  };
  const parseTerm = (): number => {
    let value = parseFactor();
    while (source[position] === "*" || source[position] === "/") {
      const operator = source[position++];
      const right = parseFactor();
      if (operator === "/" && right === 0) fail("division by zero");
      value = operator === "*" ? value * right : value / right;
    }
    return value;
  };
  const parseFactor = (): number => {
    if (source[position] === "-") {
      position++;
      return -parseFactor();
    }
    if (source[position] === "(") {
      position++;
      const value = parseExpression();
      if (source[position] !== ")") fail("expected ')'");
      position++;
      return value;
    }
    const match = /^(\d+(?:\.\d+)?|\.\d+)/.exec(source.slice(position));
    if (match === null) return fail("expected a number");
    position += match[0].length;
    return Number(match[0]);
  };

  if (source === "") fail("empty expression");
  const value = parseExpression();
  if (position !== source.length) fail(`unexpected ${JSON.stringify(source[position])}`);
  return value;
}

/** One `<<expression=result>>` annotation and whether it is arithmetically right. */
export interface AnnotationCheck {
  expression: string;
  /** The result written after `=`. */
  claimed: number;
  /** The evaluated expression. */
  computed: number;
  /** The number written right after `>>` (null if none), which should repeat the result. */
  followedBy: number | null;
  ok: boolean;
}

/** Checks every calculator annotation in a worked solution. */
export function checkCalculatorAnnotations(solution: string): AnnotationCheck[] {
  const checks: AnnotationCheck[] = [];
  for (const match of solution.matchAll(/<<([^<>=]*)=([^<>]*)>>(-?\d+(?:\.\d+)?)?/g)) {
    const expression = match[1]!;
    const claimed = Number(match[2]);
    const computed = evaluateArithmetic(expression);
    const followedBy = match[3] === undefined ? null : Number(match[3]);
    const close = Math.abs(computed - claimed) <= 1e-9 * Math.max(1, Math.abs(claimed));
    checks.push({ expression, claimed, computed, followedBy, ok: close && followedBy === claimed });
  }
  return checks;
}
