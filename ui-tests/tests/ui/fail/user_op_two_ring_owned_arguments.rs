// The ring keeps one copy of a ring-owned argument per SQ slot: an op with
// two would hand both the same address, and the kernel would read the
// second's value for the first.
uring::ops! {
    /// A NOP carrying two times.
    #[since = "5.1"]
    unsafe struct TwoTimes = NOP {
        #[ring_owned] first: uring::Timespec => addr,
        #[ring_owned] second: uring::Timespec => addr2,
    }
}

fn main() {}
