// `=` promises a default.
uring::ops! {
    /// Reads.
    #[since = "5.6"]
    pub unsafe struct MyRead<'a> = READ {
        target: fd | fixed,
        buf: &'a mut [u8] => addr + len,
        offset: u64 = => off,
    }
}

fn main() {}
