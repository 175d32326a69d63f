// WAITID writes its `siginfo` through `addr2` when the child exits, long
// after the kernel consumed the SQE and the ring reused its copy for a
// later op: a `#[ring_owned]` argument is refused outside the timeout ops.
uring::ops! {
    /// Waits for the child `pid` to exit.
    #[since = "6.7"]
    unsafe struct WaitIdIntoRingTime = WAITID {
        pid: i32 => fd,
        const len = 1,
        const file_index = 4,
        #[ring_owned]
        info: uring::Timespec => addr2,
    }
}

fn main() {}
