// A default must be a value of the argument's type; the error points at it.
uring::ops! {
    /// Reads.
    #[since = "5.6"]
    pub unsafe struct MyRead<'a> = READ {
        target: fd | fixed,
        buf: &'a mut [u8] => addr + len,
        offset: u64 = "start" => off,
    }
}

fn main() {}
