// All the table's errors are reported at once, each at its token.
uring::ops! {
    /// Misspelt twice.
    #[since = "5.6"]
    pub unsafe struct First = READ {
        offset: u64 = 0 => ofset,
        len: u32 = 0 => lenn,
    }

    /// Without opcode.
    #[since = "5.1"]
    pub unsafe struct Second {}

    /// Reserved field.
    #[since = "5.1"]
    pub unsafe struct Third = NOP {
        tag: u64 => user_data,
    }
}

fn main() {}
