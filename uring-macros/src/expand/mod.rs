//! Checked entries to Rust: for each op its struct, constructor, setters,
//! chain methods, and the in-place SQE write; for the table, the op list.
use crate::model::{Arg, Entry, List, Opcode};
use crate::validate::{Checked, TargetKind};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

#[cfg(feature = "arbitrary-ops")]
mod arbitrary;
mod sqe;
mod traits;

use sqe::{expand_fits_ring, expand_prepare};

pub(crate) fn expand(list: Option<&List>, checked: &[Checked<'_>]) -> TokenStream {
    let ops = checked.iter().map(expand_entry);
    let list_tokens = list.map(|list| expand_list(list, checked));
    let arbitrary = expand_arbitrary(list, checked);
    quote! {
        #(#ops)*
        #list_tokens
        #arbitrary
    }
}

/// The builders from arbitrary arguments, with the `arbitrary-ops` feature.
#[cfg(feature = "arbitrary-ops")]
fn expand_arbitrary(list: Option<&List>, checked: &[Checked<'_>]) -> TokenStream {
    let ops = checked.iter().map(arbitrary::expand_arbitrary_op);
    let list = list.map(|list| arbitrary::expand_arbitrary_list(list, checked));
    quote! {
        #(#ops)*
        #list
    }
}

/// Nothing, without the `arbitrary-ops` feature.
#[cfg(not(feature = "arbitrary-ops"))]
fn expand_arbitrary(_: Option<&List>, _: &[Checked<'_>]) -> TokenStream {
    TokenStream::new()
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
        let cfgs = cfg_attrs(c.entry);
        quote!(#(#cfgs)* ::uring::op::OpInfo { name: #op, code: #code, since: #since })
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

/// The entry's `cfg` attributes, which every item made for it carries.
fn cfg_attrs(entry: &Entry) -> Vec<&syn::Attribute> {
    entry
        .passthrough
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .collect()
}

/// The attributes of every item made for an entry but its struct: its
/// `cfg` and `allow` attributes (its `deprecated` is the struct's alone:
/// on a trait impl it is an error), and leave to use the struct, which
/// the items do, deprecated or not.
fn item_attrs(entry: &Entry) -> TokenStream {
    let kept = entry
        .passthrough
        .iter()
        .filter(|a| !a.path().is_ident("deprecated"));
    quote!(#(#kept)* #[allow(deprecated)])
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
    let attrs = item_attrs(entry);
    let unsafety = entry.unsafety;
    let Generics { def, bounds, args } = generics(c);
    let lifetimes: Vec<_> = entry.generics.lifetimes().map(|l| &l.lifetime).collect();
    let code = opcode_expr(entry);
    let name_str = name.to_string();
    let since = since(entry);
    let after_link = entry.after_link.is_some();
    let after_link_lit = after_link;
    let retains_lit = entry.retains_memory.is_some();
    let owned_lit = c.owned;
    let ring_owned_lit = entry.args.iter().any(|a| a.ring_owned.is_some());

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
    let target_field = match (c.target, c.owned) {
        (TargetKind::None, _) => quote!(),
        // Out of reach of the module's own code: see `OwnedTarget`.
        (_, true) => quote!(target: ::uring::op::OwnedTarget<T>,),
        (_, false) => quote!(target: T,),
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
            quote!(target: ::uring::op::OwnedTarget::new_fd(target),),
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
            quote!(target: ::uring::op::OwnedTarget::new(target),),
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
            #attrs
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

    let op_traits = traits::expand_op_traits(c, &bounds, &args, &attrs);

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

        #attrs
        // An op declared privately may leave some of its setters unused.
        #[allow(dead_code)]
        impl<#bounds> #name<#args> {
            #[doc = ::core::concat!("The opcode, ", #since, "+.")]
            #vis const CODE: ::core::primitive::u8 = #code;

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
            #vis fn user_data(mut self, user_data: ::core::primitive::u64) -> Self {
                ::uring::op::Common::set_user_data(&mut self.common, user_data);
                self
            }

            /// Sets the SQE flags a caller may choose (`IO_DRAIN`, `ASYNC`,
            /// `CQE_SKIP_SUCCESS`); the fixed-file, link and buffer-select bits
            /// follow from the op's type.
            #[inline]
            #vis fn flags(mut self, flags: impl ::uring::op::IntoSqeFlags) -> Self {
                ::uring::op::Common::set_flags(
                    &mut self.common,
                    ::uring::op::IntoSqeFlags::into_sqe_flags(flags),
                );
                self
            }

            /// Runs the op with the credentials of a personality registered
            /// with `Ring::register_personality`.
            #[inline]
            #vis fn personality(mut self, personality: ::uring::Personality) -> Self {
                ::uring::op::Common::set_personality(&mut self.common, personality);
                self
            }

            /// Links `next` after this op (`IOSQE_IO_LINK`): `next` starts when
            /// this op succeeds, and is cancelled (`-ECANCELED`) if it fails. A
            /// read or write that moves fewer bytes than asked fails a link.
            #chain_hidden
            #[inline]
            // `Prepare` (implied by `ChainNext`) comes first so that a
            // `Linked` given as `next` gets the error that says what to
            // write instead.
            #vis fn link<__N>(self, next: __N) -> ::uring::Link<Self, __N>
            where
                Self: ::uring::op::ChainStart<__N>,
                __N: ::uring::op::Prepare + ::uring::op::ChainNext,
            {
                // SAFETY: the bounds above are the chain's rules.
                unsafe { ::uring::op::link(self, next, ::uring::op::LinkKind::Soft) }
            }

            /// Links `next` after this op (`IOSQE_IO_HARDLINK`): `next` starts
            /// when this op completes, whatever its result (unless an op before
            /// this one failed over a soft link: Linux then cancels everything
            /// after it, hard-linked ops included).
            #chain_hidden
            #[inline]
            #vis fn hard_link<__N>(self, next: __N) -> ::uring::Link<Self, __N>
            where
                Self: ::uring::op::ChainStart<__N>,
                __N: ::uring::op::Prepare + ::uring::op::ChainNext,
            {
                // SAFETY: the bounds above are the chain's rules.
                unsafe { ::uring::op::link(self, next, ::uring::op::LinkKind::Hard) }
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
                // SAFETY: `AcceptsLinkTimeout` is the chain's rule.
                unsafe {
                    ::uring::op::link(
                        self,
                        ::uring::ops::LinkTimeout::new(timeout),
                        ::uring::op::LinkKind::Soft,
                    )
                }
            }

            /// Bounds this op with a `LINK_TIMEOUT` of `timeout`, as
            /// [`timeout`](Self::timeout) does, whose completion carries
            /// `user_data`.
            #chain_hidden
            #[inline]
            #vis fn timeout_with<__D>(
                self,
                timeout: __D,
                user_data: ::core::primitive::u64,
            ) -> ::uring::Link<Self, ::uring::ops::LinkTimeout>
            where
                __D: ::core::convert::Into<::uring::Timespec>,
                Self: ::uring::op::AcceptsLinkTimeout<__D>,
            {
                // SAFETY: `AcceptsLinkTimeout` is the chain's rule.
                unsafe {
                    ::uring::op::link(
                        self,
                        ::uring::ops::LinkTimeout::user_data(
                            ::uring::ops::LinkTimeout::new(timeout),
                            user_data,
                        ),
                        ::uring::op::LinkKind::Soft,
                    )
                }
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
                // SAFETY: the bounds above are the chain's rules.
                unsafe { ::uring::op::link(self, timeout, ::uring::op::LinkKind::Soft) }
            }
        }

        #attrs
        // SAFETY: the declaration is `unsafe`: its author vouches that each
        // argument feeds the field the kernel reads for this opcode; the
        // write below fills all 64 bytes of the slot.
        #[allow(clippy::undocumented_unsafe_blocks)]
        #unsafety impl<#bounds> ::uring::op::Entry for #name<#args> {
            const CODE: ::core::primitive::u8 = #code;
            const NAME: &'static ::core::primitive::str = #name_str;
            const SINCE: &'static ::core::primitive::str = #since;
            #prepare
        }

        // The opcodes whose typestate the library relies on, whatever form
        // (name, number, path) the entry gives its opcode in.
        #attrs
        const _: () = {
            let code: ::core::primitive::u8 = #code;
            if code == ::uring::sys::IORING_OP_LINK_TIMEOUT && !#after_link_lit {
                ::core::panic!(
                    "an op of opcode LINK_TIMEOUT must be declared `#[after_link]`: it exists \
                     only after a linked op"
                );
            }
            if code == ::uring::sys::IORING_OP_PROVIDE_BUFFERS && !#retains_lit {
                ::core::panic!(
                    "an op of opcode PROVIDE_BUFFERS must be declared `#[retains_memory]`: the \
                     kernel keeps its buffers after it completes"
                );
            }
            if code == ::uring::sys::IORING_OP_CLOSE && !#owned_lit {
                ::core::panic!(
                    "an op of opcode CLOSE must take `target: owned` (or `target: owned | \
                     fixed(file_index)`): it closes its file, which a borrow does not give it"
                );
            }
            if #ring_owned_lit
                && code != ::uring::sys::IORING_OP_TIMEOUT
                && code != ::uring::sys::IORING_OP_LINK_TIMEOUT
                && code != ::uring::sys::IORING_OP_TIMEOUT_REMOVE
            {
                ::core::panic!(
                    "`#[ring_owned]` is for the timespec of TIMEOUT, LINK_TIMEOUT and \
                     TIMEOUT_REMOVE, which the kernel copies as it consumes the SQE: the ring's \
                     copy lives no longer, and holds 16 bytes; give any other op a borrow"
                );
            }
        };

        #attrs
        // SAFETY: one entry is one SQE, written by `Entry::prepare` into the
        // one slot `next_slot` hands out.
        #[allow(clippy::undocumented_unsafe_blocks)]
        #unsafety impl<#bounds> ::uring::op::Prepare for #name<#args> {
            const SQES: ::core::primitive::u32 = 1;
            const NAMES_OPS: ::core::primitive::bool = {
                let code = <Self as ::uring::op::Entry>::CODE;
                code == ::uring::sys::IORING_OP_ASYNC_CANCEL
                    || code == ::uring::sys::IORING_OP_POLL_REMOVE
                    || code == ::uring::sys::IORING_OP_TIMEOUT_REMOVE
            };
            const ZERO_COPY: ::core::primitive::bool = {
                let code = <Self as ::uring::op::Entry>::CODE;
                code == ::uring::sys::IORING_OP_SEND_ZC
                    || code == ::uring::sys::IORING_OP_SENDMSG_ZC
            };
            const MAY_POST_MORE: ::core::primitive::bool =
                ::uring::op::opcode_may_post_more(<Self as ::uring::op::Entry>::CODE);
            const LINK_TIMEOUT: ::core::primitive::bool =
                <Self as ::uring::op::Entry>::CODE == ::uring::sys::IORING_OP_LINK_TIMEOUT;
            #[inline(always)]
            fn prepare_all<const __WRAP: ::core::primitive::bool, __S: ::uring::SqeSize>(
                self,
                writer: &mut ::uring::op::SqWriter<'_, __WRAP, __S>,
                link: ::core::primitive::u8,
            ) {
                ::uring::op::Entry::prepare(self, ::uring::op::SqWriter::next_slot(writer), link)
            }

            #fits_ring
        }

        #op_traits

        #default_impl

        #attrs
        // The fields an op shares; its arguments may be whole buffers.
        impl<#bounds> ::core::fmt::Debug for #name<#args> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let mut __d = ::core::fmt::Formatter::debug_struct(f, #name_str);
                ::core::fmt::DebugStruct::field(
                    &mut __d,
                    "user_data",
                    &::uring::op::Common::user_data(&self.common),
                );
                ::core::fmt::DebugStruct::field(
                    &mut __d,
                    "flags",
                    &::core::format_args!("{:#x}", ::uring::op::Common::flags(&self.common)),
                );
                ::core::fmt::DebugStruct::finish_non_exhaustive(&mut __d)
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
