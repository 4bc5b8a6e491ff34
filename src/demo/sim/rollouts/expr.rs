//! The expression subset Argo Rollouts' `successCondition` / `failureCondition` use
//! (expr-lang in upstream): `result[0] >= 0.95`, `len(result) == 0`, `isNaN(result[0])`,
//! `&&`/`||`/`!`, comparisons, arithmetic, numbers, strings and booleans.
//!
//! `result` is the measurement: a number (scalar) or a list of numbers (vector). An index out
//! of range is an error, which the analysis controller records as an Error measurement.

use std::fmt;

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprValue {
    Num(f64),
    Bool(bool),
    Str(String),
    List(Vec<ExprValue>),
    Nil,
}

impl fmt::Display for ExprValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Num(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Str(s) => write!(f, "{s:?}"),
            Self::List(l) => write!(f, "list of {}", l.len()),
            Self::Nil => write!(f, "nil"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    const OPS: &[&str] = &[
        "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "+", "-", "*", "/", "%", "(", ")", "[",
        "]", ",",
    ];
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_')
            {
                // Exponents: 1e-3
                if (chars[i] == 'e' || chars[i] == 'E')
                    && matches!(chars.get(i + 1), Some('-' | '+'))
                {
                    i += 1;
                }
                i += 1;
            }
            let text: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            let n = text
                .parse::<f64>()
                .map_err(|_| format!("invalid number {text}"))?;
            out.push(Tok::Num(n));
        } else if c == '"' || c == '\'' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            while i < chars.len() && chars[i] != quote {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err("unterminated string".to_string());
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let op = OPS
                .iter()
                .find(|op| rest.starts_with(**op))
                .ok_or_else(|| format!("unexpected character {c:?}"))?;
            i += op.len();
            out.push(Tok::Op(op));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    env: &'a ExprValue,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    // Short-circuiting is not needed for correctness here (no side effects), but an error on
    // the right of a decided `||`/`&&` must not surface, as in expr-lang.
    fn or(&mut self) -> Result<ExprValue, String> {
        let mut left = self.and();
        while self.eat_op("||") || self.eat_word("or") {
            let right = self.and();
            left = match left {
                Ok(ExprValue::Bool(true)) => Ok(ExprValue::Bool(true)),
                Ok(l) => Ok(ExprValue::Bool(truthy(&l)? || truthy(&right?)?)),
                Err(e) => Err(e),
            };
        }
        left
    }

    fn and(&mut self) -> Result<ExprValue, String> {
        let mut left = self.cmp();
        while self.eat_op("&&") || self.eat_word("and") {
            let right = self.cmp();
            left = match left {
                Ok(ExprValue::Bool(false)) => Ok(ExprValue::Bool(false)),
                Ok(l) => Ok(ExprValue::Bool(truthy(&l)? && truthy(&right?)?)),
                Err(e) => Err(e),
            };
        }
        left
    }

    fn cmp(&mut self) -> Result<ExprValue, String> {
        let left = self.add()?;
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.eat_op(op) {
                let right = self.add()?;
                return compare(op, &left, &right).map(ExprValue::Bool);
            }
        }
        Ok(left)
    }

    fn add(&mut self) -> Result<ExprValue, String> {
        let mut left = self.mul()?;
        loop {
            let op = if self.eat_op("+") {
                '+'
            } else if self.eat_op("-") {
                '-'
            } else {
                return Ok(left);
            };
            let right = self.mul()?;
            let (a, b) = (num(&left)?, num(&right)?);
            left = ExprValue::Num(if op == '+' { a + b } else { a - b });
        }
    }

    fn mul(&mut self) -> Result<ExprValue, String> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat_op("*") {
                '*'
            } else if self.eat_op("/") {
                '/'
            } else if self.eat_op("%") {
                '%'
            } else {
                return Ok(left);
            };
            let right = self.unary()?;
            let (a, b) = (num(&left)?, num(&right)?);
            left = ExprValue::Num(match op {
                '*' => a * b,
                '/' => a / b,
                _ => a % b,
            });
        }
    }

    fn unary(&mut self) -> Result<ExprValue, String> {
        if self.eat_op("!") || self.eat_word("not") {
            let v = self.unary()?;
            return Ok(ExprValue::Bool(!truthy(&v)?));
        }
        if self.eat_op("-") {
            let v = self.unary()?;
            return Ok(ExprValue::Num(-num(&v)?));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<ExprValue, String> {
        let mut v = self.primary()?;
        while self.eat_op("[") {
            let idx = self.or()?;
            if !self.eat_op("]") {
                return Err("expected ]".to_string());
            }
            v = index(&v, &idx)?;
        }
        Ok(v)
    }

    fn primary(&mut self) -> Result<ExprValue, String> {
        let tok = self.peek().cloned().ok_or("unexpected end of expression")?;
        self.pos += 1;
        match tok {
            Tok::Num(n) => Ok(ExprValue::Num(n)),
            Tok::Str(s) => Ok(ExprValue::Str(s)),
            Tok::Op("(") => {
                let v = self.or()?;
                if self.eat_op(")") {
                    Ok(v)
                } else {
                    Err("expected )".to_string())
                }
            }
            Tok::Op(op) => Err(format!("unexpected {op}")),
            Tok::Ident(name) => {
                if self.eat_op("(") {
                    let mut args = Vec::new();
                    if !self.eat_op(")") {
                        loop {
                            args.push(self.or()?);
                            if self.eat_op(")") {
                                break;
                            }
                            if !self.eat_op(",") {
                                return Err("expected , or )".to_string());
                            }
                        }
                    }
                    return call(&name, &args);
                }
                match name.as_str() {
                    "result" => Ok(self.env.clone()),
                    "true" => Ok(ExprValue::Bool(true)),
                    "false" => Ok(ExprValue::Bool(false)),
                    "nil" => Ok(ExprValue::Nil),
                    "NaN" => Ok(ExprValue::Num(f64::NAN)),
                    other => Err(format!("unknown name {other}")),
                }
            }
        }
    }
}

fn truthy(v: &ExprValue) -> Result<bool, String> {
    match v {
        ExprValue::Bool(b) => Ok(*b),
        other => Err(format!("expected bool, got {other}")),
    }
}

fn num(v: &ExprValue) -> Result<f64, String> {
    match v {
        ExprValue::Num(n) => Ok(*n),
        other => Err(format!("expected number, got {other}")),
    }
}

fn compare(op: &str, a: &ExprValue, b: &ExprValue) -> Result<bool, String> {
    match (a, b) {
        (ExprValue::Num(x), ExprValue::Num(y)) => Ok(match op {
            "==" => x == y,
            "!=" => x != y,
            "<" => x < y,
            "<=" => x <= y,
            ">" => x > y,
            _ => x >= y,
        }),
        (ExprValue::Str(x), ExprValue::Str(y)) => Ok(match op {
            "==" => x == y,
            "!=" => x != y,
            "<" => x < y,
            "<=" => x <= y,
            ">" => x > y,
            _ => x >= y,
        }),
        _ if op == "==" => Ok(a == b),
        _ if op == "!=" => Ok(a != b),
        _ => Err(format!("invalid operation: {a} {op} {b}")),
    }
}

fn index(v: &ExprValue, idx: &ExprValue) -> Result<ExprValue, String> {
    let ExprValue::List(items) = v else {
        return Err(format!("cannot index {v}"));
    };
    let i = num(idx)?;
    let len = items.len();
    let pos = if i < 0.0 { len as f64 + i } else { i };
    if pos < 0.0 || pos.fract() != 0.0 || pos as usize >= len {
        return Err(format!("index out of range: {i} (array length is {len})"));
    }
    Ok(items[pos as usize].clone())
}

fn call(name: &str, args: &[ExprValue]) -> Result<ExprValue, String> {
    let one = || {
        args.first()
            .filter(|_| args.len() == 1)
            .ok_or_else(|| format!("{name} takes one argument"))
    };
    match name {
        "len" => match one()? {
            ExprValue::List(l) => Ok(ExprValue::Num(l.len() as f64)),
            ExprValue::Str(s) => Ok(ExprValue::Num(s.chars().count() as f64)),
            other => Err(format!("invalid argument for len (type {other})")),
        },
        "isNaN" => Ok(ExprValue::Bool(num(one()?)?.is_nan())),
        "isInf" => Ok(ExprValue::Bool(num(one()?)?.is_infinite())),
        "isNil" => Ok(ExprValue::Bool(*one()? == ExprValue::Nil)),
        "asFloat" => match one()? {
            ExprValue::Num(n) => Ok(ExprValue::Num(*n)),
            ExprValue::Str(s) => s
                .parse::<f64>()
                .map(ExprValue::Num)
                .map_err(|e| e.to_string()),
            other => Err(format!("cannot convert {other} to float")),
        },
        "asInt" => match one()? {
            ExprValue::Num(n) => Ok(ExprValue::Num(n.trunc())),
            ExprValue::Str(s) => s
                .parse::<i64>()
                .map(|n| ExprValue::Num(n as f64))
                .map_err(|e| e.to_string()),
            other => Err(format!("cannot convert {other} to int")),
        },
        "abs" => Ok(ExprValue::Num(num(one()?)?.abs())),
        "default" => match args {
            [ExprValue::Nil, d] => Ok(d.clone()),
            [v, _] => Ok(v.clone()),
            _ => Err("default takes two arguments".to_string()),
        },
        other => Err(format!("unknown function {other}")),
    }
}

/// Evaluates `expr` with `result` bound to the measurement.
pub fn eval(expr: &str, result: &ExprValue) -> Result<ExprValue, String> {
    let toks = tokenize(expr)?;
    let mut p = Parser {
        toks,
        pos: 0,
        env: result,
    };
    let v = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected token at position {}", p.pos));
    }
    Ok(v)
}

/// Evaluates a condition that must produce a boolean.
pub fn eval_condition(expr: &str, result: &ExprValue) -> Result<bool, String> {
    match eval(expr, result)? {
        ExprValue::Bool(b) => Ok(b),
        other => Err(format!(
            "expected bool, but got {other} from condition {expr:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[f64]) -> ExprValue {
        ExprValue::List(v.iter().map(|n| ExprValue::Num(*n)).collect())
    }

    #[test]
    fn argo_conditions() {
        let r = list(&[0.9723]);
        assert_eq!(eval_condition("result[0] >= 0.95", &r), Ok(true));
        assert_eq!(eval_condition("result[0] < 0.05", &r), Ok(false));
        assert_eq!(eval_condition("len(result) == 0", &r), Ok(false));
        assert_eq!(eval_condition("len(result) == 0", &list(&[])), Ok(true));
        assert_eq!(
            eval_condition("isNaN(result[0]) || result[0] >= 0.95", &list(&[f64::NAN])),
            Ok(true)
        );
        assert_eq!(
            eval_condition("!isNaN(result[0]) && result[0] <= 500", &list(&[612.0])),
            Ok(false)
        );
        assert_eq!(
            eval_condition("result <= 500", &ExprValue::Num(12.0)),
            Ok(true)
        );
        assert_eq!(eval_condition("(result[0] + 1) * 2 > 3.5", &r), Ok(true));
        assert_eq!(eval_condition("result[0] >= 9.5e-1", &r), Ok(true));
        assert_eq!(eval_condition("result[-1] == 0.9723", &r), Ok(true));
    }

    #[test]
    fn errors_are_errors() {
        assert!(eval_condition("result[0] >= 0.95", &list(&[])).is_err());
        assert!(eval_condition("result[0] >=", &list(&[1.0])).is_err());
        assert!(eval_condition("result[0]", &list(&[1.0])).is_err());
        assert!(eval_condition("foo(1)", &list(&[1.0])).is_err());
        // A decided `||` does not evaluate into the error on its right.
        assert_eq!(
            eval_condition("len(result) == 0 || result[0] > 1", &list(&[])),
            Ok(true)
        );
    }
}
