// A buffer a selection may replace is written as `addr + len`.
uring::ops! {
    /// Receives.
    #[since = "5.6"]
    pub unsafe struct MyRecv<'a> = RECV {
        target: fd | fixed,
        buf: &'a mut [u8] | select => addr,
    }
}

fn main() {}
