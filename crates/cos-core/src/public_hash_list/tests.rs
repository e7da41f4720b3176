use super::*;

/// jQuery 3.7.1's `dist/jquery.min.js`: on the upstream list (the WPT uses it).
const JQUERY: &str = "fc9a93dd241f6b045cbff0481cf4e1901becd0e12fb45166a8f17f95823f0b1a";
/// SHA-256 of the empty string.
const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn h(hex: &str) -> ContentHash {
    ContentHash::from_hex(hex).unwrap()
}

fn digest(fill: char) -> String {
    fill.to_string().repeat(64)
}

fn section(s: Section, body: &str) -> String {
    format!("// ===BEGIN {0}===\n{body}// ===END {0}===\n", s.name())
}

/// Counts of a parsed list: (core, hugging face, manual, malformed, ignored).
type Counts = (usize, usize, usize, usize, usize);

fn counts(list: &PublicHashList) -> Counts {
    let [c, hf, m] = Section::ALL.map(|s| list.count(s));
    (c, hf, m, list.malformed_lines(), list.ignored_lines())
}

#[test]
fn parse_table() {
    let (a, b, c) = (digest('a'), digest('b'), digest('c'));
    let upper = a.to_uppercase();
    let short = &a[..63];
    let core = |body: &str| section(Section::Core, body);
    let hf = |body: &str| section(Section::HuggingFace, body);
    let manual = |body: &str| section(Section::Manual, body);
    let long_comment = format!("// {}\n", "x".repeat(MAX_LINE));
    let cases: Vec<(&str, String, Counts)> = vec![
        ("one core digest", core(&format!("{a}\n")), (1, 0, 0, 0, 0)),
        (
            "all three sections",
            core(&format!("{a}\n")) + &hf(&format!("{b}\n")) + &manual(&format!("{c}\n")),
            (1, 1, 1, 0, 0),
        ),
        ("empty sections are a valid list", core("") + &hf("") + &manual(""), (0, 0, 0, 0, 0)),
        ("comments and blanks inside a section", core(&format!("// pkg@1/file.wasm\n\n{a}\n   \n")), (1, 0, 0, 0, 0)),
        (
            "CRLF and surrounding whitespace",
            format!("// ===BEGIN SHA-256===\r\n  {a}\t\r\n// ===END SHA-256===\r\n"),
            (1, 0, 0, 0, 0),
        ),
        ("no space after //", format!("//===BEGIN SHA-256===\n{a}\n//===END SHA-256===\n"), (1, 0, 0, 0, 0)),
        ("no final newline", format!("// ===BEGIN SHA-256===\n{a}\n// ===END SHA-256==="), (1, 0, 0, 0, 0)),
        ("duplicates count once", core(&format!("{a}\n{b}\n{a}\n")), (2, 0, 0, 0, 0)),
        ("a repeated section merges", core(&format!("{a}\n")) + &core(&format!("{b}\n{a}\n")), (2, 0, 0, 0, 0)),
        ("uppercase is malformed", core(&format!("{upper}\n{b}\n")), (1, 0, 0, 1, 0)),
        ("63 characters are malformed", core(&format!("{short}\n")), (0, 0, 0, 1, 0)),
        ("a prefixed digest is malformed", core(&format!("sha256:{a}\n")), (0, 0, 0, 1, 0)),
        ("two digests on a line are malformed", core(&format!("{a} {b}\n")), (0, 0, 0, 1, 0)),
        ("a digest outside any section is ignored", format!("{a}\n") + &core(&format!("{b}\n")), (1, 0, 0, 0, 1)),
        (
            "an unknown section is skipped",
            section_named("SHA-384", &format!("{a}\n")) + &core(&format!("{b}\n")),
            (1, 0, 0, 0, 1),
        ),
        ("an overlong line is counted", core(&format!("{a}{}\n", " ".repeat(MAX_LINE))), (0, 0, 0, 1, 0)),
        ("an overlong comment is counted, never a marker", core("") + &long_comment, (0, 0, 0, 0, 1)),
    ];
    for (name, text, want) in cases {
        let list = PublicHashList::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(counts(&list), want, "{name}");
    }
}

fn section_named(name: &str, body: &str) -> String {
    format!("// ===BEGIN {name}===\n{body}// ===END {name}===\n")
}

#[test]
fn invalid_lists_are_refused_whole() {
    let a = digest('a');
    let nested = format!("// ===BEGIN SHA-256===\n{a}\n// ===BEGIN SHA-256 MANUAL===\n// ===END SHA-256 MANUAL===\n// ===END SHA-256===\n");
    let cases: Vec<(&str, String, PhlError)> = vec![
        ("empty text", String::new(), PhlError::NoSection),
        ("digests without a section", format!("{a}\n"), PhlError::NoSection),
        ("only an unknown section", section_named("SHA-384", &format!("{a}\n")), PhlError::NoSection),
        (
            "a lowercase marker is no marker",
            format!("// ===begin sha-256===\n{a}\n// ===end sha-256===\n"),
            PhlError::NoSection,
        ),
        (
            "never closed",
            format!("// VERSION: 1\n// ===BEGIN SHA-256===\n{a}\n"),
            PhlError::Unterminated { name: "SHA-256".into(), line: 2 },
        ),
        (
            "closed by another section's END",
            format!("// ===BEGIN SHA-256===\n{a}\n// ===END SHA-256 MANUAL===\n"),
            PhlError::UnmatchedEnd { name: "SHA-256 MANUAL".into(), line: 3 },
        ),
        (
            "an END with nothing open",
            section(Section::Core, "") + "// ===END SHA-256===\n",
            PhlError::UnmatchedEnd { name: "SHA-256".into(), line: 3 },
        ),
        ("nested", nested, PhlError::NestedBegin { name: "SHA-256 MANUAL".into(), open: "SHA-256".into(), line: 3 }),
    ];
    for (name, text, want) in cases {
        assert_eq!(PublicHashList::parse(&text).unwrap_err(), want, "{name}");
    }
}

#[test]
fn long_section_names_close_and_stay_out_of_messages() {
    let name = "X".repeat(500);
    let closed = section_named(&name, &format!("{}\n", digest('a'))) + &section(Section::Core, "");
    assert_eq!(counts(&PublicHashList::parse(&closed).unwrap()), (0, 0, 0, 0, 1));
    let message = PublicHashList::parse(&format!("// ===BEGIN {name}===\n")).unwrap_err().to_string();
    assert!(message.len() < 200, "{message}");
}

#[test]
fn keeps_version_and_commit_metadata() {
    let text = format!(
        "// Public Hash List\n// VERSION:  2026-09-14 \n// COMMIT: 0123abc\n// VERSION: later\n{}",
        section(Section::Core, &format!("{JQUERY}\n"))
    );
    let list = PublicHashList::parse(&text).unwrap();
    assert_eq!(list.version(), Some("2026-09-14"));
    assert_eq!(list.commit(), Some("0123abc"));
    let bare = PublicHashList::parse(&section(Section::Core, "")).unwrap();
    assert_eq!((bare.version(), bare.commit()), (None, None));
}

#[test]
fn lookup_in_every_section() {
    let (core, hf, manual, unlisted) = (digest('1'), digest('2'), digest('3'), digest('4'));
    let text = section(Section::Core, &format!("{JQUERY}\n{core}\n"))
        + &section(Section::HuggingFace, &format!("{hf}\n"))
        + &section(Section::Manual, &format!("{manual}\n"))
        + &format!("{unlisted}\n")
        + &section_named("SHA-384", &format!("{EMPTY}\n"));
    let list = PublicHashList::parse(&text).unwrap();
    for listed in [JQUERY, &core, &hf, &manual] {
        assert!(list.contains(&h(listed)), "{listed}");
    }
    for absent in [&unlisted, EMPTY, &digest('0'), &digest('f')] {
        assert!(!list.contains(&h(absent)), "{absent}");
    }
    assert_eq!(list.len(), 4);
    assert!(!list.is_empty());
}

#[test]
fn lookup_agrees_with_a_linear_scan() {
    // Binary search needs a sorted section: compare it with the obvious answer
    // on digests that share long prefixes.
    let digests: Vec<String> = (0..200u32).map(|i| format!("{:064x}", i.wrapping_mul(2_654_435_761) % 997)).collect();
    let text = section(Section::Core, &digests.iter().map(|d| format!("{d}\n")).collect::<String>());
    let list = PublicHashList::parse(&text).unwrap();
    for i in 0..1000u32 {
        let probe = format!("{i:064x}");
        assert_eq!(list.contains(&h(&probe)), digests.contains(&probe), "{probe}");
    }
}

#[test]
fn len_counts_a_digest_in_several_sections_once() {
    let (a, b) = (digest('a'), digest('b'));
    let text = section(Section::Core, &format!("{a}\n"))
        + &section(Section::HuggingFace, &format!("{a}\n{b}\n"))
        + &section(Section::Manual, &format!("{b}\n{a}\n"));
    let list = PublicHashList::parse(&text).unwrap();
    assert_eq!(counts(&list), (1, 2, 2, 0, 0));
    assert_eq!(list.len(), 2);
}

#[test]
fn the_empty_list_lists_nothing() {
    let list = PublicHashList::default();
    assert!(list.is_empty() && !list.contains(&h(JQUERY)));
    assert_eq!(list.len(), 0);
}

#[test]
fn any_chunking_parses_like_the_whole_text() {
    let long = "y".repeat(MAX_LINE + 40);
    let text = format!(
        "// VERSION: v\r\n{}// {long}\n{long}\n",
        section(Section::Core, &format!("{JQUERY}\r\n{}\n  {}\n{long}\n// note\n", digest('a'), digest('b')))
            + &section(Section::HuggingFace, &format!("{}\n", digest('c')))
    );
    let whole = PublicHashList::parse(&text).unwrap();
    assert_eq!(counts(&whole), (3, 1, 0, 1, 2));
    let bytes = text.as_bytes();
    for size in [1, 2, 7, 63, 64, 65, 100, MAX_LINE, MAX_LINE + 1, bytes.len()] {
        let mut parser = PhlParser::new();
        bytes.chunks(size).for_each(|c| parser.feed(c));
        assert_eq!(parser.finish().unwrap(), whole, "chunks of {size}");
    }
    for split in 0..bytes.len() {
        let mut parser = PhlParser::new();
        parser.feed(&bytes[..split]);
        parser.feed(&bytes[split..]);
        assert_eq!(parser.finish().unwrap(), whole, "split at {split}");
    }
}

#[test]
fn a_line_split_across_chunks_buffers_at_most_one_line() {
    let mut parser = PhlParser::new();
    parser.feed(b"// ===BEGIN SHA-256===\n");
    for _ in 0..10_000 {
        parser.feed(&[b'z'; 100]);
    }
    assert!(parser.partial.capacity() <= 2 * (MAX_LINE + 1), "{}", parser.partial.capacity());
    parser.feed(b"\n// ===END SHA-256===\n");
    assert_eq!(counts(&parser.finish().unwrap()), (0, 0, 0, 1, 0));
}

fn sidecar_cases() -> (String, String) {
    let text = section(Section::Core, &format!("{JQUERY}\n"));
    let mut v = Verifier::default();
    v.update(text.as_bytes());
    (text, v.finish().to_string())
}

#[test]
fn sidecar_accepts_bare_hex_and_sha256sum_output() {
    let (text, hex) = sidecar_cases();
    for sidecar in [
        hex.clone(),
        format!("{hex}\n"),
        format!("{hex}  public_hash_list.txt\n"),
        format!("{hex} *public_hash_list.txt\n"),
        format!("\r\n{}\r\n", hex.to_uppercase()),
    ] {
        verify_sidecar(text.as_bytes(), &sidecar).unwrap_or_else(|e| panic!("{sidecar:?}: {e}"));
        let mut parser = PhlParser::new();
        parser.feed(text.as_bytes());
        assert!(parser.finish_verified(&sidecar).unwrap().contains(&h(JQUERY)), "{sidecar:?}");
    }
}

#[test]
fn sidecar_rejects_other_bytes_and_malformed_sidecars() {
    let (text, hex) = sidecar_cases();
    let tampered = text.replace(JQUERY, &digest('a'));
    let mismatch = verify_sidecar(tampered.as_bytes(), &hex).unwrap_err();
    assert!(matches!(&mismatch, PhlError::SidecarMismatch { expected, .. } if *expected == hex), "{mismatch}");
    let mut parser = PhlParser::new();
    parser.feed(tampered.as_bytes());
    assert!(matches!(parser.finish_verified(&hex), Err(PhlError::SidecarMismatch { .. })));
    // Also a truncated download: the bytes the sidecar describes must all be there.
    assert!(matches!(verify_sidecar(&text.as_bytes()[..text.len() - 1], &hex), Err(PhlError::SidecarMismatch { .. })));
    for sidecar in [
        String::new(),
        "\n \n".into(),
        hex[..63].to_string(),
        format!("{hex}0"),
        format!("sha256:{hex}"),
        format!("{hex}  a.txt\n{hex}  b.txt\n"),
    ] {
        assert_eq!(verify_sidecar(text.as_bytes(), &sidecar), Err(PhlError::MalformedSidecar), "{sidecar:?}");
    }
}

#[test]
fn a_verified_parse_still_refuses_a_broken_list() {
    let text = "// ===BEGIN SHA-256===\n";
    let mut v = Verifier::default();
    v.update(text.as_bytes());
    let mut parser = PhlParser::new();
    parser.feed(text.as_bytes());
    assert!(matches!(parser.finish_verified(&v.finish().to_string()), Err(PhlError::Unterminated { .. })));
}

#[test]
fn holds_32_bytes_a_digest_plus_a_fixed_overhead() {
    let n = 20_000;
    let body: String = (0..n)
        .map(|i: u32| {
            let mut v = Verifier::default();
            v.update(&i.to_le_bytes());
            format!("{}\n", v.finish())
        })
        .collect();
    let list = PublicHashList::parse(&section(Section::Core, &body)).unwrap();
    assert_eq!(list.len(), n as usize);
    let digests = n as usize * 32;
    // Buckets and page tables: well under 32 KiB at this size.
    assert!((digests..digests + 32 * 1024).contains(&list.heap_bytes()), "{}", list.heap_bytes());
}
