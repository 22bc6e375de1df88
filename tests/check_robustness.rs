//! `check` must never panic, whatever the files contain: the seeded base configuration is
//! mutated deterministically (truncations, YAML and Jinja punctuation inserted at random
//! places, random bytes) a few hundred times, and every run must return a report.

mod check_common;

use std::path::Path;

use check_common::Cfg;
use gitops_bridge::validate::{CheckOptions, check};

const BASE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ha/seeded");

/// xorshift64*: deterministic, so a failure can be replayed from its iteration number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const PIECES: &[&[u8]] = &[
    b"{",
    b"}",
    b"{{",
    b"}}",
    b"{%",
    b"%}",
    b"{#",
    b":",
    b": ",
    b"- ",
    b"!",
    b"!include ",
    b"!secret ",
    b"!include_dir_named .",
    b"\t",
    b"\"",
    b"'",
    b"|",
    b">",
    b"&a ",
    b"*a",
    b"<<: ",
    b"\n",
    b"\n  ",
    b"---\n",
    b"?",
    b"#",
    b"%",
    b"@",
    b"`",
    b"\\",
    b"\xff",
    b"\xc3",
    b"\x00",
    b"(",
    b")",
    b"[",
    b"]",
    b",",
    b"states(",
    b"| ",
    b" is ",
    b"{% if %}",
    b"{% endfor %}",
];

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn mutated_configurations_never_break_the_checker() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for iteration in 0..300 {
        let c = Cfg::new(&[]);
        copy(Path::new(BASE), c.root());
        let mut all = Vec::new();
        files(c.root(), &mut all);
        for _ in 0..1 + rng.below(3) {
            let f = &all[rng.below(all.len())];
            let mut bytes = std::fs::read(f).unwrap();
            match rng.below(4) {
                0 => {
                    let at = rng.below(bytes.len() + 1);
                    bytes.truncate(at);
                }
                1 | 2 => {
                    let at = rng.below(bytes.len() + 1);
                    let piece = PIECES[rng.below(PIECES.len())];
                    bytes.splice(at..at, piece.iter().copied());
                }
                _ => {
                    if !bytes.is_empty() {
                        let at = rng.below(bytes.len());
                        bytes[at] = (rng.next() & 0xff) as u8;
                    }
                }
            }
            std::fs::write(f, bytes).unwrap();
        }
        let r = check(&CheckOptions::new(c.root()));
        assert!(r.is_ok(), "iteration {iteration}: {:?}", r.err());
    }
}

fn copy(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
