// An op of opcode LINK_TIMEOUT exists only after a linked op: declared
// without `#[after_link]`, it would be pushed alone or start a chain.
use uring::Timespec;

uring::ops! {
    /// A link timeout, declared without `#[after_link]`.
    #[since = "5.5"]
    unsafe struct UnmarkedLinkTimeout = LINK_TIMEOUT {
        #[ring_owned]
        timeout: impl Into<Timespec> => addr,
        const len = 1,
        const fd = -1,
    }
}

fn main() {}
