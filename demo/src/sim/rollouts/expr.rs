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

/// The parsed expression.
#[derive(Debug, Clone)]
enum Ast {
    Lit(ExprValue),
    Result,
    Not(Box<Ast>),
    Neg(Box<Ast>),
    Bin(&'static str, Box<Ast>, Box<Ast>),
    Index(Box<Ast>, Box<Ast>),
    Call(String, Vec<Ast>),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
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

    fn or(&mut self) -> Result<Ast, String> {
        let mut left = self.and()?;
        while self.eat_op("||") || self.eat_word("or") {
            left = Ast::Bin("||", Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Ast, String> {
        let mut left = self.cmp()?;
        while self.eat_op("&&") || self.eat_word("and") {
            left = Ast::Bin("&&", Box::new(left), Box::new(self.cmp()?));
        }
        Ok(left)
    }

    fn cmp(&mut self) -> Result<Ast, String> {
        let left = self.add()?;
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.eat_op(op) {
                return Ok(Ast::Bin(op, Box::new(left), Box::new(self.add()?)));
            }
        }
        Ok(left)
    }

    fn add(&mut self) -> Result<Ast, String> {
        self.left_assoc(&["+", "-"], Self::mul)
    }

    fn mul(&mut self) -> Result<Ast, String> {
        self.left_assoc(&["*", "/", "%"], Self::unary)
    }

    /// One precedence level of left-associative binary operators over `operand`.
    fn left_assoc(
        &mut self,
        ops: &[&'static str],
        operand: fn(&mut Self) -> Result<Ast, String>,
    ) -> Result<Ast, String> {
        let mut left = operand(self)?;
        while let Some(op) = ops.iter().copied().find(|op| self.eat_op(op)) {
            left = Ast::Bin(op, Box::new(left), Box::new(operand(self)?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Ast, String> {
        if self.eat_op("!") || self.eat_word("not") {
            return Ok(Ast::Not(Box::new(self.unary()?)));
        }
        if self.eat_op("-") {
            return Ok(Ast::Neg(Box::new(self.unary()?)));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Ast, String> {
        let mut v = self.primary()?;
        while self.eat_op("[") {
            let idx = self.or()?;
            if !self.eat_op("]") {
                return Err("expected ]".to_string());
            }
            v = Ast::Index(Box::new(v), Box::new(idx));
        }
        Ok(v)
    }

    fn primary(&mut self) -> Result<Ast, String> {
        let tok = self.peek().cloned().ok_or("unexpected end of expression")?;
        self.pos += 1;
        match tok {
            Tok::Num(n) => Ok(Ast::Lit(ExprValue::Num(n))),
            Tok::Str(s) => Ok(Ast::Lit(ExprValue::Str(s))),
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
                    return Ok(Ast::Call(name, args));
                }
                match name.as_str() {
                    "result" => Ok(Ast::Result),
                    "true" => Ok(Ast::Lit(ExprValue::Bool(true))),
                    "false" => Ok(Ast::Lit(ExprValue::Bool(false))),
                    "nil" => Ok(Ast::Lit(ExprValue::Nil)),
                    "NaN" => Ok(Ast::Lit(ExprValue::Num(f64::NAN))),
                    other => Err(format!("unknown name {other}")),
                }
            }
        }
    }
}

/// Evaluates a parsed expression; `&&`/`||` short-circuit as in expr-lang.
fn run(ast: &Ast, env: &ExprValue) -> Result<ExprValue, String> {
    match ast {
        Ast::Lit(v) => Ok(v.clone()),
        Ast::Result => Ok(env.clone()),
        Ast::Not(a) => Ok(ExprValue::Bool(!truthy(&run(a, env)?)?)),
        Ast::Neg(a) => Ok(ExprValue::Num(-num(&run(a, env)?)?)),
        Ast::Index(a, i) => index(&run(a, env)?, &run(i, env)?),
        Ast::Call(name, args) => {
            let vals = args
                .iter()
                .map(|a| run(a, env))
                .collect::<Result<Vec<_>, _>>()?;
            call(name, &vals)
        }
        Ast::Bin("||", a, b) => {
            if truthy(&run(a, env)?)? {
                Ok(ExprValue::Bool(true))
            } else {
                Ok(ExprValue::Bool(truthy(&run(b, env)?)?))
            }
        }
        Ast::Bin("&&", a, b) => {
            if truthy(&run(a, env)?)? {
                Ok(ExprValue::Bool(truthy(&run(b, env)?)?))
            } else {
                Ok(ExprValue::Bool(false))
            }
        }
        Ast::Bin(op, a, b) => {
            let (l, r) = (run(a, env)?, run(b, env)?);
            match *op {
                "+" | "-" | "*" | "/" | "%" => {
                    let (x, y) = (num(&l)?, num(&r)?);
                    Ok(ExprValue::Num(match *op {
                        "+" => x + y,
                        "-" => x - y,
                        "*" => x * y,
                        "/" => x / y,
                        _ => x % y,
                    }))
                }
                _ => compare(op, &l, &r).map(ExprValue::Bool),
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

/// A comparison operator applied to two numbers or two strings.
fn ordered<T: PartialOrd + ?Sized>(op: &str, x: &T, y: &T) -> bool {
    match op {
        "==" => x == y,
        "!=" => x != y,
        "<" => x < y,
        "<=" => x <= y,
        ">" => x > y,
        _ => x >= y,
    }
}

fn compare(op: &str, a: &ExprValue, b: &ExprValue) -> Result<bool, String> {
    match (a, b) {
        (ExprValue::Num(x), ExprValue::Num(y)) => Ok(ordered(op, x, y)),
        (ExprValue::Str(x), ExprValue::Str(y)) => Ok(ordered(op, x, y)),
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
    let mut p = Parser { toks, pos: 0 };
    let ast = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected token at position {}", p.pos));
    }
    run(&ast, result)
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
