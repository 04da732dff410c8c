//! `#[bellhop_testdb::test]`: turns `async fn name(pool: PgPool) { … }` into a test that runs
//! on a fresh, migrated database of its own (see `bellhop_testdb::run`).

use proc_macro::TokenStream;
use quote::quote;
use syn::{parse_macro_input, ItemFn};

#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    parse_macro_input!(args as syn::parse::Nothing);
    let function = parse_macro_input!(item as ItemFn);
    if function.sig.asyncness.is_none() {
        return syn::Error::new_spanned(&function.sig, "a database test is an `async fn`")
            .to_compile_error()
            .into();
    }
    let attrs = &function.attrs;
    let name = &function.sig.ident;
    let inputs = &function.sig.inputs;
    let output = &function.sig.output;
    let body = &function.block;
    quote! {
        #(#attrs)*
        #[::core::prelude::v1::test]
        fn #name() {
            async fn #name(#inputs) #output #body
            ::bellhop_testdb::run(::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)), #name)
        }
    }
    .into()
}
