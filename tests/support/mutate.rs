//! A seeded mutation fuzzer for stable Rust: takes recorded frames and changes them the way
//! a hostile or broken peer would (flipped bits, lying lengths, cut and spliced bytes), so
//! the same seed gives the same inputs on every run.

/// Lengths and counts that lie: as bincode varints (u64 and u128 markers), as LEB128 (what
/// postcard writes), and as the little-endian u32s of the packet envelope.
const LIES: &[&[u8]] = &[
    &[0xfd, 0, 0, 0, 0, 0, 0, 0, 0x40],
    &[0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0xfd, 0, 0, 0, 0, 0, 0x01, 0, 0],
    &[
        0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff,
    ],
    &[0xfc, 0xff, 0xff, 0xff, 0xff],
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    &[0xff, 0xff, 0xff, 0x7f],
    &[0, 0, 0, 0x80],
];

/// Bytes that often mean something: tags, varint markers, edges.
const INTERESTING: &[u8] = &[0, 1, 2, 0x7f, 0x80, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff];

pub struct Mutator {
    rng: fastrand::Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Mutator {
        Mutator {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.rng.usize(..n.max(1))
    }

    pub fn chance(&mut self, percent: u8) -> bool {
        self.rng.u8(..100) < percent
    }

    /// One to four changes to `input`.
    pub fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..1 + self.below(4) {
            self.change(&mut out);
        }
        out
    }

    fn change(&mut self, out: &mut Vec<u8>) {
        let at = self.below(out.len() + 1);
        match self.below(8) {
            0 if !out.is_empty() => {
                let i = self.below(out.len());
                out[i] ^= 1 << self.below(8);
            }
            1 if !out.is_empty() => {
                let i = self.below(out.len());
                out[i] = INTERESTING[self.below(INTERESTING.len())];
            }
            2 => {
                let lie = LIES[self.below(LIES.len())];
                out.splice(at..at, lie.iter().copied());
            }
            3 if at < out.len() => {
                // Overwrite with a lie (a length field in place).
                let lie = LIES[self.below(LIES.len())];
                let end = (at + lie.len()).min(out.len());
                out.splice(at..end, lie.iter().copied());
            }
            4 if at < out.len() => {
                let end = at + self.below(out.len() - at + 1);
                out.drain(at..end);
            }
            5 if at < out.len() => {
                let end = at + self.below((out.len() - at).min(64) + 1);
                let copy = out[at..end].to_vec();
                let to = self.below(out.len() + 1);
                out.splice(to..to, copy);
            }
            6 => out.truncate(at),
            _ => {
                let byte = self.rng.u8(..);
                out.insert(at, byte);
            }
        }
    }

    /// A session of frames with one or two of them changed, the rest as recorded: most
    /// changes go to payloads with their length fixed up, so they reach the packet and
    /// value decoders; some leave the length wrong, for the framing layer. The first frame
    /// (the handshake) is kept as it is unless `mutate_first`.
    pub fn session(&mut self, frames: &[Vec<u8>], mutate_first: bool) -> Vec<u8> {
        let mut frames: Vec<Vec<u8>> = frames.to_vec();
        if frames.len() > 2 && self.chance(20) {
            // Drop, repeat or reorder a frame after the handshake.
            let i = 1 + self.below(frames.len() - 1);
            match self.below(3) {
                0 => {
                    frames.remove(i);
                }
                1 => frames.insert(i, frames[i].clone()),
                _ => {
                    let j = 1 + self.below(frames.len() - 1);
                    frames.swap(i, j);
                }
            }
        }
        let first = usize::from(!mutate_first);
        for _ in 0..1 + self.below(2) {
            if frames.len() <= first {
                break;
            }
            let i = first + self.below(frames.len() - first);
            let payload = &frames[i][4.min(frames[i].len())..];
            let mut changed = self.mutate(payload);
            if self.chance(90) {
                let mut framed = (changed.len() as u32).to_be_bytes().to_vec();
                framed.append(&mut changed);
                frames[i] = framed;
            } else {
                let mut framed = frames[i][..4.min(frames[i].len())].to_vec();
                framed.append(&mut changed);
                frames[i] = framed;
            }
        }
        frames.concat()
    }
}

/// Splits a recorded byte stream into its frames (length prefix included); a torn last frame
/// is dropped.
pub fn frames(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while bytes.len() >= 4 {
        let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        if bytes.len() < 4 + len {
            break;
        }
        out.push(bytes[..4 + len].to_vec());
        bytes = &bytes[4 + len..];
    }
    out
}

/// A numeric setting from the environment (`FUZZ_INPUTS`, `FUZZ_SEED`), or `default`.
pub fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
