// `off` and `cmd_op` are two views of the same bytes: an SQE holds one.
uring::ops! {
    /// A driver command.
    #[since = "5.19"]
    pub unsafe struct MyCmd = URING_CMD {
        target: fd | fixed,
        offset: u64 = 0 => off,
        op: u32 => cmd_op,
    }
}

fn main() {}
