//! Checked entries to Rust: for each op its struct, constructor, setters,
//! chain methods, and the in-place SQE write; for the table, the op list.

use crate::model::{Arg, Entry, List, Opcode};
use crate::sqe::{Field, Member, Slot};
use crate::validate::{Checked, Source, TargetKind, Write};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

pub(crate) fn expand(list: Option<&List>, checked: &[Checked<'_>]) -> TokenStream {
    let ops = checked.iter().map(expand_entry);
    let list = list.map(|list| expand_list(list, checked));
    quote! {
        #(#ops)*
        #list
    }
}

fn opcode_expr(entry: &Entry) -> TokenStream {
    match entry.opcode.as_ref().expect("checked: opcode present") {
        Opcode::Kernel(ident) => {
            let konst = format_ident!("IORING_OP_{}", ident, span = ident.span());
            quote!(::uring::sys::#konst)
        }
        Opcode::Int(lit) => quote!(#lit),
        Opcode::Path(path) => quote!(#path),
    }
}

fn opcode_doc(entry: &Entry) -> String {
    match entry.opcode.as_ref().expect("checked: opcode present") {
        Opcode::Kernel(ident) => format!("`IORING_OP_{ident}`"),
        Opcode::Int(lit) => format!("`{lit}`"),
        Opcode::Path(path) => format!("`{}`", quote!(#path).to_string().replace(' ', "")),
    }
}

fn since(entry: &Entry) -> String {
    entry
        .since
        .as_ref()
        .expect("checked: since present")
        .value()
}

fn expand_list(list: &List, checked: &[Checked<'_>]) -> TokenStream {
    let List { vis, name } = list;
    let infos = checked.iter().map(|c| {
        let op = c.entry.name.to_string();
        let code = opcode_expr(c.entry);
        let since = since(c.entry);
        quote!(::uring::op::OpInfo { name: #op, code: #code, since: #since })
    });
    let doc = format!(
        "Every op of this table: name, opcode and the kernel version that added it ({} ops).",
        checked.len()
    );
    quote! {
        #[doc = #doc]
        #vis const #name: &[::uring::op::OpInfo] = &[#(#infos),*];
    }
}

/// The generic parameter lists of one op.
struct Generics {
    /// On the struct, with defaults: `'a, T = Fd, B = &'a mut [u8]`.
    def: TokenStream,
    /// On impls, with bounds.
    bounds: TokenStream,
    /// As arguments: `'a, T, B`.
    args: TokenStream,
}

fn generics(c: &Checked<'_>) -> Generics {
    let lifetimes: Vec<_> = c.entry.generics.lifetimes().collect();
    let names: Vec<_> = lifetimes.iter().map(|l| &l.lifetime).collect();
    let mut def = quote!(#(#lifetimes,)*);
    let mut bounds = def.clone();
    let mut args = quote!(#(#names,)*);
    match c.target {
        TargetKind::None => {}
        TargetKind::FdOrFixed | TargetKind::FdOrFixedIndex => {
            def.extend(quote!(T = ::uring::Fd<'static>,));
            bounds.extend(quote!(T: ::uring::Target,));
            args.extend(quote!(T,));
        }
        TargetKind::Fd => {
            def.extend(quote!(T = ::uring::Fd<'static>,));
            bounds.extend(quote!(T: ::uring::op::FdTarget,));
            args.extend(quote!(T,));
        }
        TargetKind::Fixed => {
            def.extend(quote!(T = ::uring::Fixed<'static>,));
            bounds.extend(quote!(T: ::uring::op::FixedTarget,));
            args.extend(quote!(T,));
        }
    }
    if let Some(index) = c.select {
        let arg = &c.entry.args[index];
        let ty = &arg.ty;
        def.extend(quote!(B = #ty,));
        let span = arg.select.as_ref().map_or(Span::call_site(), |w| w.span());
        if arg.select_only {
            bounds.extend(quote_spanned!(span=> B: ::uring::op::SelectOnly,));
        } else {
            bounds.extend(quote_spanned!(span=> B: ::uring::op::SelectBuffer<#ty>,));
        }
        args.extend(quote!(B,));
    }
    Generics { def, bounds, args }
}

fn stored_type(c: &Checked<'_>, index: usize) -> TokenStream {
    if c.select == Some(index) {
        quote!(B)
    } else {
        let ty = &c.entry.args[index].ty;
        quote!(#ty)
    }
}

fn param_type(c: &Checked<'_>, index: usize) -> TokenStream {
    let arg = &c.entry.args[index];
    let ty = stored_type(c, index);
    if arg.into {
        quote!(impl ::core::convert::Into<#ty>)
    } else {
        ty
    }
}

fn store_value(arg: &Arg) -> TokenStream {
    let name = &arg.name;
    if arg.into {
        quote!(::core::convert::Into::into(#name))
    } else {
        quote!(#name)
    }
}

fn expand_entry(c: &Checked<'_>) -> TokenStream {
    let entry = c.entry;
    let name = &entry.name;
    let vis = &entry.vis;
    let docs = &entry.docs;
    let passthrough = &entry.passthrough;
    let unsafety = entry.unsafety;
    let Generics { def, bounds, args } = generics(c);
    let lifetimes: Vec<_> = entry.generics.lifetimes().map(|l| &l.lifetime).collect();
    let code = opcode_expr(entry);
    let name_str = name.to_string();
    let since = since(entry);
    let after_link = entry.after_link.is_some();

    let target_doc = match c.target {
        TargetKind::None => "It acts on no file.",
        TargetKind::Fd => {
            "It acts on a raw file descriptor only; the kernel cannot use a fixed file here."
        }
        TargetKind::FdOrFixed => {
            "It acts on a raw file descriptor ([`Fd`](::uring::Fd)) or a registered file \
             ([`Fixed`](::uring::Fixed)); the target's type sets `IOSQE_FIXED_FILE`."
        }
        TargetKind::FdOrFixedIndex => {
            "It acts on a raw file descriptor ([`Fd`](::uring::Fd)) or a registered file slot \
             ([`Fixed`](::uring::Fixed), passed as `file_index`)."
        }
        TargetKind::Fixed => "It acts on a registered file ([`Fixed`](::uring::Fixed)) only.",
    };
    let chain_doc = if after_link {
        "It cannot be pushed alone: it follows a linked op, appended with `.timeout(..)` or \
         `.link_timeout(..)`."
    } else {
        "Push it on a ring, or chain it with `.link(..)`, `.hard_link(..)` and `.timeout(..)`."
    };
    let struct_doc = format!(
        "\n\nOpcode {}, since Linux {since}. {target_doc} {chain_doc}",
        opcode_doc(entry)
    );

    // Struct fields.
    let target_field = match c.target {
        TargetKind::None => quote!(),
        _ => quote!(target: T,),
    };
    let arg_fields = entry.args.iter().enumerate().map(|(i, arg)| {
        let ty = stored_type(c, i);
        let n = &arg.name;
        quote!(#n: #ty,)
    });

    // Constructor.
    let target_span = entry
        .target
        .as_ref()
        .map_or(name.span(), |t| t.token.span());
    let (target_param, target_init, target_param_doc) = match (c.target, c.owned) {
        (TargetKind::None, _) => (quote!(), quote!(), None),
        (TargetKind::Fixed, _) => (
            quote_spanned!(target_span=> target: impl ::uring::IntoFixed<Target = T>,),
            quote!(target: ::uring::IntoFixed::into_fixed(target),),
            Some("`target`: the registered file, a `Fixed` from the registration handle."),
        ),
        (TargetKind::Fd, false) => (
            quote_spanned!(target_span=> target: impl ::uring::IntoFd<Target = T>,),
            quote!(target: ::uring::IntoFd::into_fd(target),),
            Some("`target`: the file, as a borrowed descriptor (`&file`, a `BorrowedFd`)."),
        ),
        (TargetKind::Fd, true) => (
            quote_spanned!(target_span=> target: impl ::uring::IntoOwnedFd<Target = T>,),
            quote!(target: ::uring::IntoOwnedFd::into_owned_fd(target),),
            Some(
                "`target`: the file, given up to the op (an `OwnedFd`, a `File`, a socket); \
                 it stays open if the op is dropped unpushed or cancelled.",
            ),
        ),
        (_, false) => (
            quote_spanned!(target_span=> target: impl ::uring::IntoTarget<Target = T>,),
            quote!(target: ::uring::IntoTarget::into_target(target),),
            Some(
                "`target`: the file, as a borrowed descriptor (`&file`, a `BorrowedFd`), or a `Fixed` file.",
            ),
        ),
        (_, true) => (
            quote_spanned!(target_span=> target: impl ::uring::IntoOwnedTarget<Target = T>,),
            quote!(target: ::uring::IntoOwnedTarget::into_owned_target(target),),
            Some(
                "`target`: the file, given up to the op (an `OwnedFd`, a `File`, a socket), \
                 or a registered slot held exclusively (`files.get_mut(index)?`); a \
                 descriptor stays open if the op is dropped unpushed or cancelled.",
            ),
        ),
    };
    let mut new_params = Vec::new();
    let mut inits = Vec::new();
    let mut new_docs: Vec<String> = target_param_doc.into_iter().map(String::from).collect();
    let mut setters = Vec::new();
    for (i, arg) in entry.args.iter().enumerate() {
        let n = &arg.name;
        let pty = param_type(c, i);
        let arg_doc = doc_text(&arg.docs);
        match &arg.default {
            None => {
                new_params.push(quote!(#n: #pty,));
                inits.push(if arg.into {
                    let value = store_value(arg);
                    quote!(#n: #value,)
                } else {
                    quote!(#n,)
                });
                let extra = if arg.select_only {
                    " A [`BufferGroup`](::uring::BufferGroup): the kernel picks a whole \
                     provided buffer from it for each completion."
                } else if c.select == Some(i) {
                    " Pass a [`BufferSelect`](::uring::BufferSelect) instead to let the kernel \
                     pick a provided buffer."
                } else {
                    ""
                };
                new_docs.push(format!("`{n}`: {}{extra}", first_line_or(&arg_doc, "")));
            }
            Some(default) => {
                let ty = stored_type(c, i);
                let value = if arg.into {
                    quote_spanned!(default.span()=> {
                        let __default: #ty = ::core::convert::Into::into(#default);
                        __default
                    })
                } else {
                    quote_spanned!(default.span()=> {
                        let __default: #ty = #default;
                        __default
                    })
                };
                inits.push(quote!(#n: #value,));
                let fields: Vec<String> = arg.fields.iter().map(|f| format!("`{f}`")).collect();
                let setter_doc = format!(
                    "{}{}Sets `{n}` (SQE {}); the default is `{}`.",
                    arg_doc,
                    if arg_doc.is_empty() { "" } else { "\n\n" },
                    fields.join(" + "),
                    quote!(#default)
                        .to_string()
                        .replace(" :: ", "::")
                        .replace("( )", "()")
                );
                let value = store_value(arg);
                setters.push(quote! {
                    #[doc = #setter_doc]
                    #[inline]
                    #vis fn #n(mut self, #n: #pty) -> Self {
                        self.#n = #value;
                        self
                    }
                });
            }
        }
    }
    let new_doc = if new_docs.is_empty() {
        format!("Creates a `{name}` op.")
    } else {
        format!(
            "Creates a `{name}` op.\n\n{}",
            new_docs
                .iter()
                .map(|d| format!("- {d}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    };

    // An op built from nothing has a default: itself.
    let default_impl = if new_params.is_empty() && c.target == TargetKind::None {
        quote! {
            #(#passthrough)*
            impl<#bounds> ::core::default::Default for #name<#args> {
                #[inline]
                fn default() -> Self {
                    Self::new()
                }
            }
        }
    } else {
        quote!()
    };
    let chain_hidden = if after_link {
        quote!(#[doc(hidden)])
    } else {
        quote!()
    };
    let prepare = expand_prepare(c);
    let fits_ring = expand_fits_ring(c);
    let marker_types = lifetimes.iter().map(|l| quote!(&#l ()));

    // SAFETY (of the generated impl): the entry is `unsafe`, vouching that
    // the kernel is done with the op's memory at its last completion unless
    // it says `#[retains_memory]`.
    let scoped = if entry.retains_memory.is_none() {
        quote! {
            #[diagnostic::do_not_recommend]
            unsafe impl<#bounds> ::uring::op::Scoped for #name<#args> {}
        }
    } else {
        quote!()
    };
    // An op with no lifetime and no target names nothing the kernel could
    // use after the push: the safe `Ring::push` takes it.
    // An op that takes ownership of its descriptor (CLOSE) borrows nothing
    // either when it is given one.
    let unborrowed = if lifetimes.is_empty() && c.target == TargetKind::None {
        quote! {
            #[diagnostic::do_not_recommend]
            impl<#bounds> ::uring::op::Unborrowed for #name<#args> {}
        }
    } else if lifetimes.is_empty() && c.owned && c.select.is_none() {
        quote! {
            #[diagnostic::do_not_recommend]
            impl ::uring::op::Unborrowed for #name<::uring::Fd<'static>> {}
        }
    } else {
        quote!()
    };
    // An op fits both SQE sizes, unless it fills a 128-byte SQE.
    let fits = if entry.sqe128.is_some() {
        quote! {
            #[diagnostic::do_not_recommend]
            impl<#bounds> ::uring::op::FitsSqe<::uring::Sqe128> for #name<#args> {}
        }
    } else {
        quote! {
            #[diagnostic::do_not_recommend]
            impl<#bounds __S: ::uring::SqeSize> ::uring::op::FitsSqe<__S> for #name<#args> {}
        }
    };
    let submission = if entry.sqe128.is_some() {
        quote! {
            #[diagnostic::do_not_recommend]
            impl<#bounds> ::uring::op::Submission<::uring::Sqe128> for #name<#args> {}
        }
    } else {
        quote! {
            #[diagnostic::do_not_recommend]
            impl<#bounds __S: ::uring::SqeSize> ::uring::op::Submission<__S> for #name<#args> {}
        }
    };
    let op_traits = if after_link {
        quote! {
            impl<#bounds> ::uring::op::AfterLink for #name<#args> {}
            #fits
            #scoped
            #unborrowed
        }
    } else {
        quote! {
            #submission
            #[diagnostic::do_not_recommend]
            impl<#bounds> ::uring::op::ChainNext for #name<#args> {}
            #[diagnostic::do_not_recommend]
            impl<#bounds __N> ::uring::op::ChainStart<__N> for #name<#args> {}
            #[diagnostic::do_not_recommend]
            impl<#bounds __D> ::uring::op::AcceptsLinkTimeout<__D> for #name<#args> {}
            #fits
            #scoped
            #unborrowed
        }
    };

    // Generated items carry the entry's name as their span, so that a note
    // like "required by a bound in `Read::new`" points at the table entry.
    quote_spanned! {name.span()=>
        #(#docs)*
        #[doc = #struct_doc]
        #(#passthrough)*
        #[must_use = "an op does nothing until it is pushed to a ring"]
        #vis struct #name<#def> {
            #target_field
            #(#arg_fields)*
            common: ::uring::op::Common,
            _borrows: ::core::marker::PhantomData<(#(#marker_types,)*)>,
        }

        #(#passthrough)*
        // An op declared privately may leave some of its setters unused.
        #[allow(dead_code)]
        impl<#bounds> #name<#args> {
            #[doc = concat!("The opcode, ", #since, "+.")]
            #vis const CODE: u8 = #code;

            #[doc = #new_doc]
            #[inline]
            #vis fn new(#target_param #(#new_params)*) -> Self {
                #name {
                    #target_init
                    #(#inits)*
                    common: ::uring::op::Common::new(),
                    _borrows: ::core::marker::PhantomData,
                }
            }

            #(#setters)*

            /// Sets the `user_data` the completion carries back.
            #[inline]
            #vis fn user_data(mut self, user_data: u64) -> Self {
                self.common.user_data = user_data;
                self
            }

            /// Sets the SQE flags a caller may choose (`IO_DRAIN`, `ASYNC`,
            /// `CQE_SKIP_SUCCESS`); the fixed-file, link and buffer-select bits
            /// follow from the op's type.
            #[inline]
            #vis fn flags(mut self, flags: impl ::uring::op::IntoSqeFlags) -> Self {
                self.common.flags = ::uring::op::IntoSqeFlags::into_sqe_flags(flags).bits();
                self
            }

            /// Runs the op with the credentials of a personality registered
            /// with `Ring::register_personality`.
            #[inline]
            #vis fn personality(mut self, personality: ::uring::Personality) -> Self {
                self.common.personality = personality.id();
                self
            }

            /// Links `next` after this op (`IOSQE_IO_LINK`): `next` starts when
            /// this op succeeds and is cancelled if it fails.
            #chain_hidden
            #[inline]
            #vis fn link<__N>(self, next: __N) -> ::uring::Link<Self, __N>
            where
                Self: ::uring::op::ChainStart<__N>,
                __N: ::uring::op::ChainNext,
            {
                ::uring::op::link(self, next, ::uring::sys::IOSQE_IO_LINK)
            }

            /// Links `next` after this op (`IOSQE_IO_HARDLINK`): `next` starts
            /// when this op completes, whatever its result.
            #chain_hidden
            #[inline]
            #vis fn hard_link<__N>(self, next: __N) -> ::uring::Link<Self, __N>
            where
                Self: ::uring::op::ChainStart<__N>,
                __N: ::uring::op::ChainNext,
            {
                ::uring::op::link(self, next, ::uring::sys::IOSQE_IO_HARDLINK)
            }

            /// Bounds this op with a `LINK_TIMEOUT` of `timeout`: if the op has
            /// not completed by then it is cancelled (`-ECANCELED`). The
            /// timespec lives in the ring until the kernel has read it.
            #chain_hidden
            #[inline]
            #vis fn timeout<__D>(self, timeout: __D) -> ::uring::Link<Self, ::uring::ops::LinkTimeout>
            where
                __D: ::core::convert::Into<::uring::Timespec>,
                Self: ::uring::op::AcceptsLinkTimeout<__D>,
            {
                ::uring::op::link(
                    self,
                    ::uring::ops::LinkTimeout::new(timeout),
                    ::uring::sys::IOSQE_IO_LINK,
                )
            }

            /// Bounds this op with a `LINK_TIMEOUT` of `timeout`, as
            /// [`timeout`](Self::timeout) does, whose completion carries
            /// `user_data`.
            #chain_hidden
            #[inline]
            #vis fn timeout_with<__D>(
                self,
                timeout: __D,
                user_data: u64,
            ) -> ::uring::Link<Self, ::uring::ops::LinkTimeout>
            where
                __D: ::core::convert::Into<::uring::Timespec>,
                Self: ::uring::op::AcceptsLinkTimeout<__D>,
            {
                ::uring::op::link(
                    self,
                    ::uring::ops::LinkTimeout::new(timeout).user_data(user_data),
                    ::uring::sys::IOSQE_IO_LINK,
                )
            }

            /// Bounds this op with a link timeout built by hand (to set its
            /// flags or `user_data`).
            #chain_hidden
            #[inline]
            #vis fn link_timeout<__L>(self, timeout: __L) -> ::uring::Link<Self, __L>
            where
                __L: ::uring::op::AfterLink,
                Self: ::uring::op::AcceptsLinkTimeout<__L>,
            {
                ::uring::op::link(self, timeout, ::uring::sys::IOSQE_IO_LINK)
            }
        }

        #(#passthrough)*
        // SAFETY: the declaration is `unsafe`: its author vouches that each
        // argument feeds the field the kernel reads for this opcode; the
        // write below fills all 64 bytes of the slot.
        #[allow(clippy::undocumented_unsafe_blocks)]
        #unsafety impl<#bounds> ::uring::op::Entry for #name<#args> {
            const CODE: u8 = #code;
            const NAME: &'static str = #name_str;
            #prepare
        }

        #(#passthrough)*
        // SAFETY: one entry is one SQE, written by `Entry::prepare` into the
        // one slot `next_slot` hands out.
        #[allow(clippy::undocumented_unsafe_blocks)]
        #unsafety impl<#bounds> ::uring::op::Prepare for #name<#args> {
            const SQES: u32 = 1;
            const NAMES_OPS: bool = {
                let code = <Self as ::uring::op::Entry>::CODE;
                code == ::uring::sys::IORING_OP_ASYNC_CANCEL
                    || code == ::uring::sys::IORING_OP_POLL_REMOVE
                    || code == ::uring::sys::IORING_OP_TIMEOUT_REMOVE
            };
            #[inline(always)]
            fn prepare_all<const __WRAP: bool, __S: ::uring::SqeSize>(
                self,
                writer: &mut ::uring::op::SqWriter<'_, __WRAP, __S>,
                link: u8,
            ) {
                ::uring::op::Entry::prepare(self, writer.next_slot(), link)
            }

            #fits_ring
        }

        #(#passthrough)*
        #op_traits

        #default_impl

        #(#passthrough)*
        // The fields an op shares; its arguments may be whole buffers.
        impl<#bounds> ::core::fmt::Debug for #name<#args> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#name_str)
                    .field("user_data", &self.common.user_data)
                    .field("flags", &::core::format_args!("{:#x}", self.common.flags))
                    .finish_non_exhaustive()
            }
        }
    }
}

fn doc_text(docs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in docs {
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            lines.push(s.value().trim().to_string());
        }
    }
    lines.join("\n")
}

fn first_line_or(text: &str, fallback: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        fallback.to_string()
    } else {
        line.to_string()
    }
}

/// The SQE field type (or tuple of types) an argument converts to.
fn arg_field_type(arg: &Arg) -> TokenStream {
    let tys: Vec<TokenStream> = arg
        .fields
        .iter()
        .map(|f| field_type(crate::sqe::field(&f.to_string()).expect("checked field")))
        .collect();
    if tys.len() == 1 {
        tys[0].clone()
    } else {
        quote!((#(#tys),*))
    }
}

/// `Prepare::fits_ring`: the target and every argument that names a
/// registered file must belong to the ring pushed to. Arguments that name
/// none answer `true` at compile time.
fn expand_fits_ring(c: &Checked<'_>) -> TokenStream {
    let mut checks = Vec::new();
    if c.target != TargetKind::None {
        checks.push(quote!(::uring::Target::fits_ring(&self.target, __ring)));
    }
    for (i, arg) in c.entry.args.iter().enumerate() {
        if c.select == Some(i) || arg.ring_owned.is_some() {
            continue;
        }
        let n = &arg.name;
        let ty = arg_field_type(arg);
        checks.push(quote!(::uring::op::SqeField::<#ty>::fits_ring(&self.#n, __ring)));
    }
    if checks.is_empty() {
        checks.push(quote!(true));
    }
    quote! {
        #[inline(always)]
        fn fits_ring(&self, __ring: u32) -> bool {
            let _ = __ring;
            #(#checks)&&*
        }
    }
}

/// The body of `Entry::prepare`: convert every argument, then write the
/// whole SQE with one struct literal.
fn expand_prepare(c: &Checked<'_>) -> TokenStream {
    let entry = c.entry;
    let arg_names: Vec<_> = entry.args.iter().map(|a| &a.name).collect();
    let target_pat = if c.target == TargetKind::None {
        quote!()
    } else {
        quote!(target: __target,)
    };
    let mut lets = Vec::new();
    for (i, arg) in entry.args.iter().enumerate() {
        let n = &arg.name;
        let local = format_ident!("__arg{}", i);
        if c.select == Some(i) {
            let ty = &arg.ty;
            let parts = if arg.select_only {
                quote!(<B as ::uring::op::SelectOnly>::into_parts(#n))
            } else {
                quote!(<B as ::uring::op::SelectBuffer<#ty>>::into_parts(#n))
            };
            lets.push(quote! {
                let #local: (u64, u32, u16, u8) = #parts;
            });
            continue;
        }
        if arg.ring_owned.is_some() {
            lets.push(quote_spanned! {arg.name.span()=>
                let #local: u64 = slot.ring_owned(#n);
            });
            continue;
        }
        let ty = arg_field_type(arg);
        let ty_span = arg.ty.span();
        lets.push(quote_spanned! {ty_span=>
            let #local: #ty = ::uring::op::SqeField::<#ty>::into_field(#n);
        });
    }

    let target_flag = match c.target {
        TargetKind::FdOrFixed => quote!(| <T as ::uring::Target>::SQE_FLAGS),
        TargetKind::Fixed => quote!(| ::uring::sys::IOSQE_FIXED_FILE),
        _ => quote!(),
    };
    let select_flag = match c.select {
        Some(i) => {
            let local = format_ident!("__arg{}", i);
            quote!(| #local.3)
        }
        None => quote!(),
    };

    let value_of = |w: &Write| -> TokenStream {
        match w.source {
            Source::Arg { index, part, parts } => {
                let local = format_ident!("__arg{}", index);
                if parts == 1 {
                    quote!(#local)
                } else {
                    let part = syn::Index::from(part);
                    quote!(#local.#part)
                }
            }
            Source::RingOwned(index) => {
                let local = format_ident!("__arg{}", index);
                quote!(#local)
            }
            Source::Const(index) => {
                let constant = &entry.consts[index];
                let value = &constant.value;
                let ty = field_type(w.field);
                quote_spanned!(value.span()=> ::uring::op::SqeField::<#ty>::into_field(#value))
            }
            Source::TargetFd => match c.target {
                TargetKind::FdOrFixedIndex => quote! {
                    if <T as ::uring::Target>::FIXED { 0 } else { ::uring::Target::raw(&__target) }
                },
                _ => quote!(::uring::Target::raw(&__target)),
            },
            Source::TargetFileIndex => quote! {
                if <T as ::uring::Target>::FIXED {
                    (::uring::Target::raw(&__target) as u32).wrapping_add(1)
                } else {
                    0
                }
            },
            Source::SelectAddr | Source::SelectLen | Source::SelectGroup => {
                let local = format_ident!("__arg{}", c.select.expect("select source"));
                let part = syn::Index::from(match w.source {
                    Source::SelectAddr => 0,
                    Source::SelectLen => 1,
                    _ => 2,
                });
                quote!(#local.#part)
            }
        }
    };

    let slot_expr = |slot: Slot| -> TokenStream {
        let writes: Vec<&Write> = c.writes.iter().filter(|w| w.field.slot == slot).collect();
        write_slot(slot, &writes, &value_of)
    };
    let ioprio = slot_expr(Slot::Ioprio);
    let fd = slot_expr(Slot::Fd);
    let off = slot_expr(Slot::Off);
    let addr = slot_expr(Slot::Addr);
    let len = slot_expr(Slot::Len);
    let op_flags = slot_expr(Slot::OpFlags);
    let buf = slot_expr(Slot::Buf);
    let file = slot_expr(Slot::File);
    let addr3 = slot_expr(Slot::Addr3);
    let cmd = c
        .writes
        .iter()
        .find(|w| w.field.member == Member::Cmd)
        .map(&value_of);

    let write = match cmd {
        Some(cmd) => quote!(slot.write_with_cmd(__sqe, &#cmd);),
        None => quote!(slot.write(__sqe);),
    };

    quote! {
        #[inline(always)]
        fn prepare<__S: ::uring::SqeSize>(self, mut slot: ::uring::op::SqeSlot<'_, __S>, link: u8) {
            let Self { #target_pat #(#arg_names,)* common: __common, .. } = self;
            #(#lets)*
            let __sqe = ::uring::sys::io_uring_sqe {
                opcode: <Self as ::uring::op::Entry>::CODE,
                flags: __common.flags | link #target_flag #select_flag,
                ioprio: #ioprio,
                fd: #fd,
                off: #off,
                addr: #addr,
                len: #len,
                op_flags: #op_flags,
                user_data: __common.user_data,
                buf: #buf,
                personality: __common.personality,
                file: #file,
                addr3: #addr3,
            };
            #write
        }
    }
}

fn field_type(field: &Field) -> TokenStream {
    if field.member == Member::Cmd {
        return quote!([u8; 80]);
    }
    let ty = syn::Ident::new(field.ty, Span::call_site());
    quote!(#ty)
}

fn union_type(slot: Slot) -> Option<(&'static str, TokenStream)> {
    let zero = match slot {
        Slot::Off => ("io_uring_sqe_off", quote!(off: 0)),
        Slot::Addr => ("io_uring_sqe_addr", quote!(addr: 0)),
        Slot::OpFlags => ("io_uring_sqe_op_flags", quote!(rw_flags: 0)),
        Slot::Buf => ("io_uring_sqe_buf", quote!(buf_index: 0)),
        Slot::File => ("io_uring_sqe_file", quote!(file_index: 0)),
        Slot::Addr3 => (
            "io_uring_sqe_addr3",
            quote!(addr3: ::uring::sys::io_uring_sqe_addr3_pad { addr3: 0, __pad2: [0] }),
        ),
        Slot::Ioprio | Slot::Fd | Slot::Len => return None,
    };
    Some(zero)
}

fn write_slot(
    slot: Slot,
    writes: &[&Write],
    value_of: &dyn Fn(&Write) -> TokenStream,
) -> TokenStream {
    // Writes of one field are or-ed together (validation allows several only
    // for `|field` claims).
    let combined = |of: &[&Write]| -> TokenStream {
        let values = of.iter().map(|w| value_of(w));
        quote!(#(#values)|*)
    };
    let Some((union_name, zero)) = union_type(slot) else {
        return if writes.is_empty() {
            quote!(0)
        } else {
            combined(writes)
        };
    };
    let union_ty = syn::Ident::new(union_name, Span::call_site());
    let Some(first) = writes.first() else {
        return quote!(::uring::sys::#union_ty { #zero });
    };
    match first.field.member {
        Member::Plain => unreachable!("plain fields have no union"),
        // Written after the SQE, by `write_with_cmd`.
        Member::Cmd => quote!(::uring::sys::#union_ty { #zero }),
        Member::Union(member) => {
            let member = syn::Ident::new(member, Span::call_site());
            let value = combined(writes);
            quote!(::uring::sys::#union_ty { #member: #value })
        }
        Member::Nested {
            member, ty, all, ..
        } => {
            let member = syn::Ident::new(member, Span::call_site());
            let struct_ty = syn::Ident::new(ty, Span::call_site());
            let inits = all.iter().map(|name| {
                let field = syn::Ident::new(name, Span::call_site());
                let of: Vec<&Write> = writes
                    .iter()
                    .copied()
                    .filter(|w| matches!(w.field.member, Member::Nested { field, .. } if field == *name))
                    .collect();
                if of.is_empty() {
                    quote!(#field: ::core::default::Default::default())
                } else {
                    let value = combined(&of);
                    quote!(#field: #value)
                }
            });
            quote!(::uring::sys::#union_ty { #member: ::uring::sys::#struct_ty { #(#inits),* } })
        }
    }
}
