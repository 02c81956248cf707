//! A small assembler for classic BPF, the language of seccomp filters
//! (runner, unprivileged; pure). Jumps name labels instead of counting
//! instructions; `finish` lays the program out and turns a conditional jump
//! whose target is beyond its 8-bit reach into a short jump over an
//! unconditional one (32-bit reach). Every jump goes forward, as the kernel
//! requires: a label is placed after the jumps to it, or `finish` fails.
//! Only what seccomp.rs emits is here: loads of a 32-bit word of
//! `struct seccomp_data`, AND with a constant, comparisons with a constant,
//! and returns.

pub use libc::sock_filter;

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// A position in the program, placed with `Assembler::mark`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

/// Where a conditional jump goes: on to the next instruction, or to a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Next,
    To(Label),
}

/// The comparisons a conditional jump can make of the accumulator with a
/// constant (unsigned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    Eq,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug)]
enum Item {
    Plain(sock_filter),
    Jump { code: u16, k: u32, yes: Target, no: Target },
    Goto(Label),
    Mark(Label),
}

#[derive(Default)]
pub struct Assembler {
    items: Vec<Item>,
    labels: usize,
}

fn plain(code: u16, k: u32) -> Item {
    Item::Plain(sock_filter { code, jt: 0, jf: 0, k })
}

impl Assembler {
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    /// Places `label` before the next instruction.
    pub fn mark(&mut self, label: Label) {
        self.items.push(Item::Mark(label));
    }

    /// Loads the 32-bit word at `offset` of `struct seccomp_data`.
    pub fn load(&mut self, offset: u32) {
        self.items.push(plain(LD_W_ABS, offset));
    }

    pub fn and(&mut self, mask: u32) {
        self.items.push(plain(AND_K, mask));
    }

    pub fn ret(&mut self, value: u32) {
        self.items.push(plain(RET_K, value));
    }

    pub fn goto(&mut self, label: Label) {
        self.items.push(Item::Goto(label));
    }

    /// Compares the accumulator with `k`: on to `yes` if it holds, else `no`.
    pub fn jump(&mut self, compare: Compare, k: u32, yes: Target, no: Target) {
        let code = match compare {
            Compare::Eq => JEQ_K,
            Compare::Gt => JGT_K,
            Compare::Ge => JGE_K,
        };
        self.items.push(Item::Jump { code, k, yes, no });
    }

    /// The program. Fails if a label is missing or placed before a jump to it.
    pub fn finish(self) -> Result<Vec<sock_filter>, String> {
        // Which conditional jumps need the long form: grows until every
        // short one reaches its targets (each change only lengthens the
        // program, so this ends).
        let mut long = vec![false; self.items.len()];
        loop {
            let (starts, labels) = self.layout(&long)?;
            let mut changed = false;
            for (index, item) in self.items.iter().enumerate() {
                if let Item::Jump { yes, no, .. } = item {
                    let next = starts[index] + 1;
                    let far = |target: &Target| offset(target, next, next, &labels).is_ok_and(|o| o > u8::MAX as usize);
                    if !long[index] && (far(yes) || far(no)) {
                        long[index] = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                return self.emit(&long, &starts, &labels);
            }
        }
    }

    /// Each item's first instruction, and each label's position.
    fn layout(&self, long: &[bool]) -> Result<(Vec<usize>, Vec<Option<usize>>), String> {
        let mut starts = Vec::with_capacity(self.items.len());
        let mut labels = vec![None; self.labels];
        let mut position = 0;
        for (index, item) in self.items.iter().enumerate() {
            starts.push(position);
            position += match item {
                Item::Mark(label) => {
                    labels[label.0] = Some(position);
                    0
                }
                Item::Jump { .. } if long[index] => 3,
                _ => 1,
            };
        }
        Ok((starts, labels))
    }

    fn emit(&self, long: &[bool], starts: &[usize], labels: &[Option<usize>]) -> Result<Vec<sock_filter>, String> {
        let mut program = Vec::new();
        for (index, item) in self.items.iter().enumerate() {
            let next = starts[index] + 1;
            match *item {
                Item::Plain(instruction) => program.push(instruction),
                Item::Mark(_) => {}
                Item::Goto(label) => program.push(goto(offset(&Target::To(label), next, next, labels)?)?),
                Item::Jump { code, k, yes, no } if long[index] => {
                    // Short jump over the first of two unconditional ones.
                    let end = next + 2;
                    program.push(sock_filter { code, jt: 0, jf: 1, k });
                    program.push(goto(offset(&yes, next + 1, end, labels)?)?);
                    program.push(goto(offset(&no, next + 2, end, labels)?)?);
                }
                Item::Jump { code, k, yes, no } => {
                    let short = |target| u8::try_from(offset(&target, next, next, labels)?).map_err(|e| e.to_string());
                    program.push(sock_filter {
                        code,
                        jt: short(yes)?,
                        jf: short(no)?,
                        k,
                    });
                }
            }
        }
        Ok(program)
    }
}

fn goto(offset: usize) -> Result<sock_filter, String> {
    let k = u32::try_from(offset).map_err(|e| e.to_string())?;
    Ok(sock_filter {
        code: JA,
        jt: 0,
        jf: 0,
        k,
    })
}

/// Instructions to skip from `from` (the instruction after the jump) to
/// `target`; `Next` is `end`, the instruction after the jump's item.
fn offset(target: &Target, from: usize, end: usize, labels: &[Option<usize>]) -> Result<usize, String> {
    let Target::To(label) = target else {
        return Ok(end - from);
    };
    let position = labels
        .get(label.0)
        .copied()
        .flatten()
        .ok_or_else(|| format!("BPF label {} is never placed", label.0))?;
    position
        .checked_sub(from)
        .ok_or_else(|| format!("BPF label {} is placed before a jump to it", label.0))
}

/// Runs `program` on `data` (a `struct seccomp_data`) as the kernel would;
/// for tests. Panics on an instruction the assembler never emits.
#[cfg(test)]
pub fn run(program: &[sock_filter], data: &[u8; 64]) -> u32 {
    let (mut a, mut pc) = (0u32, 0usize);
    loop {
        let instruction = program[pc];
        pc += 1;
        let k = instruction.k;
        let branch = |taken: bool| usize::from(if taken { instruction.jt } else { instruction.jf });
        match instruction.code {
            LD_W_ABS => {
                let at = k as usize;
                a = u32::from_ne_bytes(data[at..at + 4].try_into().unwrap());
            }
            AND_K => a &= k,
            JA => pc += k as usize,
            JEQ_K => pc += branch(a == k),
            JGT_K => pc += branch(a > k),
            JGE_K => pc += branch(a >= k),
            RET_K => return k,
            code => panic!("unexpected BPF instruction {code:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(word0: u32) -> [u8; 64] {
        let mut data = [0; 64];
        data[..4].copy_from_slice(&word0.to_ne_bytes());
        data
    }

    #[test]
    fn far_targets_get_the_long_form() {
        let mut asm = Assembler::default();
        let far = asm.label();
        asm.load(0);
        asm.jump(Compare::Eq, 7, Target::To(far), Target::Next);
        for value in 0..300 {
            asm.ret(value);
        }
        asm.mark(far);
        asm.ret(1000);
        let program = asm.finish().unwrap();
        // load, jeq, ja, ja, 300 returns, return.
        assert_eq!(program.len(), 305);
        assert_eq!(run(&program, &data(7)), 1000);
        assert_eq!(run(&program, &data(8)), 0);
    }

    #[test]
    fn the_long_form_falls_through_to_the_next_item() {
        let mut asm = Assembler::default();
        let far = asm.label();
        asm.load(0);
        asm.jump(Compare::Ge, 7, Target::Next, Target::To(far));
        asm.ret(1);
        for value in 0..300 {
            asm.ret(value);
        }
        asm.mark(far);
        asm.ret(1000);
        let program = asm.finish().unwrap();
        assert_eq!(program.len(), 306);
        assert_eq!((run(&program, &data(7)), run(&program, &data(6))), (1, 1000));
    }

    #[test]
    fn near_targets_stay_short() {
        let mut asm = Assembler::default();
        let (yes, no) = (asm.label(), asm.label());
        asm.load(0);
        asm.jump(Compare::Gt, 5, Target::To(yes), Target::To(no));
        asm.mark(no);
        asm.ret(1);
        asm.mark(yes);
        asm.ret(2);
        let program = asm.finish().unwrap();
        assert_eq!(program.len(), 4);
        assert_eq!((run(&program, &data(6)), run(&program, &data(5))), (2, 1));
    }

    #[test]
    fn backward_and_missing_labels_are_errors() {
        let mut asm = Assembler::default();
        let label = asm.label();
        asm.mark(label);
        asm.ret(0);
        asm.goto(label);
        assert_eq!(asm.finish().unwrap_err(), "BPF label 0 is placed before a jump to it");
        let mut asm = Assembler::default();
        let label = asm.label();
        asm.goto(label);
        assert_eq!(asm.finish().unwrap_err(), "BPF label 0 is never placed");
    }
}
