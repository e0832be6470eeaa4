//! Dependency expressions over SCR item ids (the Requirement column of an SCR table) and the
//! `applies_if` expressions of cases, whose atoms may also be ICS capability ids
//! (`ICS-DMC-NOTIF-HTTP`). Grammar, loosest binding first:
//!
//! ```text
//! expr := and ( ("or" | "OR" | "|") and )*
//! and  := unary ( ("and" | "AND" | "&") unary )*
//! unary:= ("not" | "NOT" | "!") unary | "(" expr ")" | "true" | "false" | ATOM
//! ATOM := [A-Za-z][A-Za-z0-9_.-]*
//! ```
use std::fmt;

/// A parsed expression. `And`/`Or` are n-ary (chains are flattened while parsing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Const(bool),
    Atom(String),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// A parse error: where (in characters from the start of the input) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {offset} of {input:?}: expected {expected}, found {found}")]
pub struct ExprError {
    pub input: String,
    /// 0-based character (not byte) offset.
    pub offset: usize,
    pub expected: String,
    pub found: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    And,
    Or,
    Not,
    LParen,
    RParen,
    Const(bool),
    Atom(String),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::And => "`and`".into(),
            Tok::Or => "`or`".into(),
            Tok::Not => "`not`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Const(b) => format!("`{b}`"),
            Tok::Atom(a) => format!("`{a}`"),
            Tok::End => "end of expression".into(),
        }
    }
}

const EXPECT_OPERAND: &str = "an item id, `not`, `(`, `true` or `false`";

fn tokenize(input: &str) -> Result<Vec<(usize, Tok)>, ExprError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = match c {
            '&' => Tok::And,
            '|' => Tok::Or,
            '!' => Tok::Not,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            c if c.is_ascii_alphabetic() => {
                while i + 1 < chars.len() && (chars[i + 1].is_ascii_alphanumeric() || "_.-".contains(chars[i + 1])) {
                    i += 1;
                }
                let word: String = chars[start..=i].iter().collect();
                match word.as_str() {
                    "and" | "AND" => Tok::And,
                    "or" | "OR" => Tok::Or,
                    "not" | "NOT" => Tok::Not,
                    "true" | "TRUE" => Tok::Const(true),
                    "false" | "FALSE" => Tok::Const(false),
                    _ => Tok::Atom(word),
                }
            }
            other => {
                return Err(ExprError {
                    input: input.to_string(),
                    offset: start,
                    expected: format!("{EXPECT_OPERAND}, an operator (`and`, `or`, `&`, `|`, `!`) or `)`"),
                    found: format!("character {other:?}"),
                })
            }
        };
        out.push((start, tok));
        i += 1;
    }
    out.push((chars.len(), Tok::End));
    Ok(out)
}

struct Parser<'a> {
    input: &'a str,
    toks: Vec<(usize, Tok)>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &(usize, Tok) {
        // The token list always ends with `End`, and `pos` never moves past it.
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().1.clone();
        if t != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn error(&self, expected: &str) -> ExprError {
        let (offset, tok) = self.peek();
        ExprError { input: self.input.to_string(), offset: *offset, expected: expected.into(), found: tok.describe() }
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut parts = vec![self.and()?];
        while self.peek().1 == Tok::Or {
            self.bump();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::Or(flatten(parts, true)) })
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut parts = vec![self.unary()?];
        while self.peek().1 == Tok::And {
            self.bump();
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::And(flatten(parts, false)) })
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        match self.peek().1.clone() {
            Tok::Not => {
                self.bump();
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Tok::LParen => {
                self.bump();
                let e = self.or()?;
                if self.peek().1 != Tok::RParen {
                    return Err(self.error("`)` or an operator (`and`, `or`)"));
                }
                self.bump();
                Ok(e)
            }
            Tok::Const(b) => {
                self.bump();
                Ok(Expr::Const(b))
            }
            Tok::Atom(a) => {
                self.bump();
                Ok(Expr::Atom(a))
            }
            _ => Err(self.error(EXPECT_OPERAND)),
        }
    }
}

/// `(a or b) or c` is `a or b or c`: one canonical form per meaning of a chain.
fn flatten(parts: Vec<Expr>, is_or: bool) -> Vec<Expr> {
    let mut out = Vec::new();
    for p in parts {
        match p {
            Expr::Or(v) if is_or => out.extend(v),
            Expr::And(v) if !is_or => out.extend(v),
            other => out.push(other),
        }
    }
    out
}

impl Expr {
    /// Parses an expression; the error gives the character offset and what was expected.
    pub fn parse(input: &str) -> Result<Expr, ExprError> {
        let toks = tokenize(input)?;
        let mut p = Parser { input, toks, pos: 0 };
        let e = p.or()?;
        if p.peek().1 != Tok::End {
            return Err(p.error("an operator (`and`, `or`) or end of expression"));
        }
        Ok(e)
    }

    /// The distinct atoms (item or capability ids), in order of first appearance.
    pub fn atoms(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.visit_atoms(&mut |a| {
            if !out.contains(&a) {
                out.push(a);
            }
        });
        out
    }

    fn visit_atoms<'a>(&'a self, f: &mut dyn FnMut(&'a str)) {
        match self {
            Expr::Const(_) => {}
            Expr::Atom(a) => f(a),
            Expr::Not(e) => e.visit_atoms(f),
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.visit_atoms(f)),
        }
    }

    /// Evaluates with `atom` giving the value of each atom (every atom is asked, no short-circuit,
    /// so callers that record what they were asked see all of them).
    pub fn eval(&self, atom: &mut dyn FnMut(&str) -> bool) -> bool {
        match self {
            Expr::Const(b) => *b,
            Expr::Atom(a) => atom(a),
            Expr::Not(e) => !e.eval(atom),
            Expr::And(v) => v.iter().map(|e| e.eval(atom)).collect::<Vec<_>>().into_iter().all(|x| x),
            Expr::Or(v) => v.iter().map(|e| e.eval(atom)).collect::<Vec<_>>().into_iter().any(|x| x),
        }
    }

    /// Evaluates and returns the atoms that decided the result: for a false `and`, its false
    /// operands; for a true `or`, its true operands; otherwise all operands.
    pub fn eval_deciding(&self, atom: &mut dyn FnMut(&str) -> bool) -> (bool, Vec<String>) {
        match self {
            Expr::Const(b) => (*b, Vec::new()),
            Expr::Atom(a) => (atom(a), vec![a.clone()]),
            Expr::Not(e) => {
                let (v, d) = e.eval_deciding(atom);
                (!v, d)
            }
            Expr::And(v) | Expr::Or(v) => {
                let is_or = matches!(self, Expr::Or(_));
                let results: Vec<(bool, Vec<String>)> = v.iter().map(|e| e.eval_deciding(atom)).collect();
                // The value that settles the operator on its own: true for `or`, false for `and`.
                let settling = is_or;
                let value = if results.iter().any(|(r, _)| *r == settling) { settling } else { !settling };
                let mut deciding = Vec::new();
                for (r, d) in results {
                    if value != settling || r == settling {
                        for a in d {
                            if !deciding.contains(&a) {
                                deciding.push(a);
                            }
                        }
                    }
                }
                (value, deciding)
            }
        }
    }

    fn precedence(&self) -> u8 {
        match self {
            Expr::Or(_) => 1,
            Expr::And(_) => 2,
            _ => 3,
        }
    }

    fn fmt_child(&self, child: &Expr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if child.precedence() <= self.precedence() && !matches!(self, Expr::Not(_) if child.precedence() == 3) {
            write!(f, "({child})")
        } else {
            write!(f, "{child}")
        }
    }
}

/// Canonical form: lowercase operators, parentheses only where precedence needs them.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Const(b) => write!(f, "{b}"),
            Expr::Atom(a) => f.write_str(a),
            Expr::Not(e) => {
                f.write_str("not ")?;
                self.fmt_child(e, f)
            }
            Expr::And(v) | Expr::Or(v) => {
                let op = if matches!(self, Expr::Or(_)) { " or " } else { " and " };
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    self.fmt_child(e, f)?;
                }
                Ok(())
            }
        }
    }
}

impl std::str::FromStr for Expr {
    type Err = ExprError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Expr::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Expr::parse(s).unwrap().to_string()
    }

    #[test]
    fn operators_in_all_spellings_give_one_canonical_form() {
        assert_eq!(canon("A AND B OR NOT C"), "A and B or not C");
        assert_eq!(canon("A & B | !C"), "A and B or not C");
        assert_eq!(canon("a and (b or c)"), "a and (b or c)");
        assert_eq!(canon("((a or b) or c)"), "a or b or c");
        assert_eq!(canon("not (a and b)"), "not (a and b)");
        assert_eq!(canon("not not a"), "not not a");
        assert_eq!(canon("TRUE & false"), "true and false");
        assert_eq!(canon("ICS-DMC-NOTIF-HTTP and DM-PACK-002-C-O"), "ICS-DMC-NOTIF-HTTP and DM-PACK-002-C-O");
    }

    #[test]
    fn display_round_trips() {
        for s in ["a or b and c", "(a or b) and c", "not (a or b) and c", "!a|b&(c|!d)"] {
            let e = Expr::parse(s).unwrap();
            assert_eq!(Expr::parse(&e.to_string()).unwrap(), e, "{s}");
        }
    }

    #[test]
    fn atoms_are_distinct_in_order() {
        let e = Expr::parse("B and (A or B) and not C").unwrap();
        assert_eq!(e.atoms(), vec!["B", "A", "C"]);
    }

    #[test]
    fn eval_and_deciding_atoms() {
        let e = Expr::parse("A and (B or C)").unwrap();
        let mut val = |a: &str| a == "A" || a == "C";
        assert!(e.eval(&mut val));
        assert_eq!(e.eval_deciding(&mut val), (true, vec!["A".to_string(), "C".to_string()]));
        let mut val = |a: &str| a == "B" || a == "C";
        assert_eq!(e.eval_deciding(&mut val), (false, vec!["A".to_string()]));
        let e = Expr::parse("not X").unwrap();
        assert_eq!(e.eval_deciding(&mut |_| false), (true, vec!["X".to_string()]));
    }

    #[test]
    fn errors_give_offset_and_expectation() {
        let e = Expr::parse("A and").unwrap_err();
        assert_eq!(e.offset, 5);
        assert!(e.expected.contains("item id"), "{e}");
        assert_eq!(e.found, "end of expression");

        let e = Expr::parse("(A or B").unwrap_err();
        assert_eq!(e.offset, 7);
        assert!(e.expected.contains("`)`"), "{e}");

        let e = Expr::parse("A B").unwrap_err();
        assert_eq!(e.offset, 2);
        assert_eq!(e.found, "`B`");

        let e = Expr::parse("é and A").unwrap_err();
        assert_eq!(e.offset, 0);
        let e = Expr::parse("A and é").unwrap_err();
        assert_eq!(e.offset, 6, "offsets count characters, not bytes");

        assert!(Expr::parse("").is_err());
        assert!(Expr::parse("1A").is_err());
        assert!(Expr::parse(")").is_err());
    }
}
