//! RFC 8941 Structured Field dictionaries, as far as the `Permissions-Policy`
//! header needs them: the whole grammar is checked, because a browser that
//! cannot parse the header ignores all of it, and we must ignore it in exactly
//! the same cases; but only tokens and strings are kept (an allowlist is made
//! of nothing else), every other item is kept only as "something else".

/// A bare item, reduced to what an allowlist can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Token(String),
    String(String),
    /// An integer, decimal, byte sequence or boolean.
    Other,
}

/// A dictionary member's value (its parameters are checked and dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    Item(Item),
    InnerList(Vec<Item>),
}

/// Parses `input` as a dictionary; `None` if it is not one. A key given
/// twice keeps its last value, as RFC 8941 says.
pub fn parse_dictionary(input: &str) -> Option<Vec<(String, Member)>> {
    let mut p = Parser { bytes: input.as_bytes(), at: 0 };
    p.skip_sp();
    let mut members: Vec<(String, Member)> = Vec::new();
    while !p.done() {
        let key = p.key()?;
        let member = if p.eat(b'=') {
            p.item_or_inner_list()?
        } else {
            p.parameters()?;
            Member::Item(Item::Other) // a bare key is the boolean true
        };
        members.retain(|(k, _)| *k != key);
        members.push((key, member));
        p.skip_ows();
        if p.done() {
            break;
        }
        if !p.eat(b',') {
            return None;
        }
        p.skip_ows();
        if p.done() {
            return None; // a trailing comma
        }
    }
    Some(members)
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.at += usize::from(hit);
        hit
    }

    fn skip_sp(&mut self) {
        while self.eat(b' ') {}
    }

    fn skip_ows(&mut self) {
        while self.eat(b' ') || self.eat(b'\t') {}
    }

    /// `key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`
    fn key(&mut self) -> Option<String> {
        let start = self.at;
        if !matches!(self.peek(), Some(b'a'..=b'z' | b'*')) {
            return None;
        }
        while matches!(self.peek(), Some(b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')) {
            self.at += 1;
        }
        Some(self.text(start))
    }

    fn text(&self, start: usize) -> String {
        // Only ASCII was consumed.
        String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned()
    }

    fn item_or_inner_list(&mut self) -> Option<Member> {
        if !self.eat(b'(') {
            let item = self.bare_item()?;
            self.parameters()?;
            return Some(Member::Item(item));
        }
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            if self.eat(b')') {
                self.parameters()?;
                return Some(Member::InnerList(items));
            }
            items.push(self.bare_item()?);
            self.parameters()?;
            if !matches!(self.peek(), Some(b' ' | b')')) {
                return None;
            }
        }
    }

    fn parameters(&mut self) -> Option<()> {
        while self.eat(b';') {
            self.skip_sp();
            self.key()?;
            if self.eat(b'=') {
                self.bare_item()?;
            }
        }
        Some(())
    }

    fn bare_item(&mut self) -> Option<Item> {
        match self.peek()? {
            b'-' | b'0'..=b'9' => self.number().map(|()| Item::Other),
            b'"' => self.string().map(Item::String),
            b'*' | b'A'..=b'Z' | b'a'..=b'z' => Some(Item::Token(self.token())),
            b':' => self.byte_sequence().map(|()| Item::Other),
            b'?' => self.boolean().map(|()| Item::Other),
            _ => None,
        }
    }

    /// An integer (at most 15 digits) or a decimal (at most 12 before the
    /// point, 1 to 3 after).
    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        let digits = |p: &mut Self| {
            let start = p.at;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.at += 1;
            }
            p.at - start
        };
        let whole = digits(self);
        if whole == 0 {
            return None;
        }
        if !self.eat(b'.') {
            return (whole <= 15).then_some(());
        }
        let fraction = digits(self);
        (whole <= 12 && (1..=3).contains(&fraction)).then_some(())
    }

    fn string(&mut self) -> Option<String> {
        self.eat(b'"');
        let mut out = String::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.at += 1;
                    match self.peek()? {
                        c @ (b'"' | b'\\') => out.push(char::from(c)),
                        _ => return None,
                    }
                }
                c @ 0x20..=0x7e => out.push(char::from(c)),
                _ => return None,
            }
            self.at += 1;
        }
    }

    /// `token = ( ALPHA / "*" ) *( tchar / ":" / "/" )`
    fn token(&mut self) -> String {
        let start = self.at;
        self.at += 1;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c)) {
            self.at += 1;
        }
        self.text(start)
    }

    fn byte_sequence(&mut self) -> Option<()> {
        self.eat(b':');
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || b"+/=".contains(&c)) {
            self.at += 1;
        }
        self.eat(b':').then_some(())
    }

    fn boolean(&mut self) -> Option<()> {
        self.eat(b'?');
        (self.eat(b'0') || self.eat(b'1')).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(s: &str) -> Item {
        Item::Token(s.to_owned())
    }

    #[test]
    fn parses_the_shapes_permissions_policy_uses() {
        let parsed = parse_dictionary(r#"camera=*, cross-origin-storage=(self "https://x.example"), usb=()"#).unwrap();
        assert_eq!(
            parsed,
            vec![
                ("camera".to_owned(), Member::Item(token("*"))),
                (
                    "cross-origin-storage".to_owned(),
                    Member::InnerList(vec![token("self"), Item::String("https://x.example".to_owned())])
                ),
                ("usb".to_owned(), Member::InnerList(vec![])),
            ]
        );
    }

    #[test]
    fn keeps_the_last_value_of_a_repeated_key_and_drops_parameters() {
        let parsed = parse_dictionary("a=(), b=?1;x=1, a=*;report-to=main").unwrap();
        assert_eq!(
            parsed,
            vec![("b".to_owned(), Member::Item(Item::Other)), ("a".to_owned(), Member::Item(token("*")))]
        );
    }

    #[test]
    fn accepts_every_bare_item_kind() {
        for ok in [
            "a=1",
            "a=-12.345",
            "a=:aGk=:",
            "a=?0",
            "a",
            "a;p",
            r#"a="q\"\\""#,
            "a=(1 2.5 \"s\" t ?1)",
            "  a=1",
            "a=() ,\tb=*  ",
        ] {
            assert!(parse_dictionary(ok).is_some(), "{ok}");
        }
        assert_eq!(parse_dictionary("").unwrap(), vec![]);
    }

    #[test]
    fn refuses_what_is_not_a_dictionary() {
        for bad in [
            "Camera=*",
            "a=(),",
            "a=() b=()",
            "a=(self",
            "a=(self)x",
            "a=\"unterminated",
            "a=\"tab\there\"",
            "a=\"é\"",
            "a=1234567890123456",
            "a=1.2345",
            "a=1.",
            "a=:abc",
            "a=?2",
            "a=@",
            "a=*,,b=*",
            "=a",
            "a=(\"x\"\"y\")",
        ] {
            assert_eq!(parse_dictionary(bad), None, "{bad}");
        }
    }
}
