//! The op-table macro of the `uring` crate.
//!
//! `ops!` reads a table of io_uring op declarations and generates, for each,
//! a typed builder: the struct with its target and buffer type parameters, a
//! constructor, a setter per optional argument, chain methods, its `CODE`,
//! and the code that writes its SQE in place. It is re-exported as
//! `uring::ops!`; the grammar and an example are documented there.
//!
//! The macro works in three steps, one module each: [`parse`] turns tokens
//! into a [`model`], [`validate`] checks the model against the kernel's SQE
//! ([`sqe`]) and reports every problem at its token, and [`expand`] writes
//! the code.

mod expand;
mod model;
mod parse;
mod sqe;
mod validate;

use proc_macro::TokenStream;

/// Declares io_uring ops from a table; see `uring::ops!` for the grammar.
#[proc_macro]
pub fn ops(input: TokenStream) -> TokenStream {
    let table = syn::parse_macro_input!(input as model::Table);
    match validate::check(&table) {
        Ok(checked) => expand::expand(table.list.as_ref(), &checked).into(),
        Err(errors) => errors.to_compile_error().into(),
    }
}
