// `user_data` belongs to every op's `.user_data()`, not to an argument.
uring::ops! {
    /// Does nothing.
    #[since = "5.1"]
    pub unsafe struct MyNop = NOP {
        tag: u64 => user_data,
    }
}

fn main() {}
