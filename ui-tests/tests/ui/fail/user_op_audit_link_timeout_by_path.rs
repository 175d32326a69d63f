// The check that an op of opcode LINK_TIMEOUT says `#[after_link]` reads
// the opcode's value, not its spelling: a program's own constant of 15,
// given by its path, is LINK_TIMEOUT too.
const MY_LINK_TIMEOUT: u8 = 15;

uring::ops! {
    /// A link timeout under another name.
    #[since = "5.5"]
    unsafe struct Deadline = self::MY_LINK_TIMEOUT {
        #[ring_owned]
        timeout: uring::Timespec => addr,
        const len = 1,
        const fd = -1,
    }
}

fn main() {}
