//! Code generation for one API definition.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Ident, LitStr};

use crate::parse::{
    camel_case, snake_case, Access, ApiDef, ChildDef, MethodDef, ModelForm, PropDef,
};
use crate::signature::signature;

pub fn expand(def: &ApiDef) -> TokenStream {
    let lib = quote!(::actix_remote_objects);
    let private = quote!(#lib::__private);
    let api = &def.name;
    let vis = &def.vis;
    let docs = &def.docs;
    let module = Ident::new(&snake_case(&api.to_string()), api.span());
    let module_doc = LitStr::new(
        &format!("Generated items of the [`{api}`] API."),
        Span::call_site(),
    );

    let properties = properties_struct(def);
    let property_change = property_change_enum(def);
    let signals = signal_types(def, &private);
    let slots = slot_types(def, &private);
    let writes = write_messages(def);
    let simple_source = simple_source(def);
    let replica_ext = replica_ext(def);
    let remote_object = remote_object_impl(def, &module);
    let hostable = hostable_impl(def, &module);

    let enums = def.enums.iter().map(|e| {
        let name = &e.name;
        let edocs = &e.docs;
        let keys = e.keys.iter().enumerate().map(|(i, (kdocs, key, _))| {
            let default = (i == 0).then(|| quote!(#[default]));
            quote!(#(#kdocs)* #default #key)
        });
        quote! {
            #(#edocs)*
            #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, #private::serde::Serialize, #private::serde::Deserialize)]
            #[serde(crate = "::actix_remote_objects::__private::serde")]
            #vis enum #name { #(#keys),* }
        }
    });

    quote! {
        #(#enums)*

        #(#docs)*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #vis struct #api;

        #[doc = #module_doc]
        #[allow(clippy::all, unused_imports, non_camel_case_types)]
        #vis mod #module {
            use super::*;
            use #lib::__private::actix as __actix;

            #properties
            #property_change
            #signals
            #slots
            #writes
            #simple_source
            #replica_ext
        }

        #remote_object
        #hostable
    }
}

fn prop_docs(p: &PropDef) -> TokenStream {
    let docs = &p.docs;
    if docs.is_empty() {
        let text = LitStr::new(&format!("The `{}` property.", p.name), p.name.span());
        quote!(#[doc = #text])
    } else {
        quote!(#(#docs)*)
    }
}

fn method_docs(m: &MethodDef, kind: &str) -> TokenStream {
    let docs = &m.docs;
    if docs.is_empty() {
        let text = LitStr::new(&format!("The `{}` {kind}.", m.name), m.name.span());
        quote!(#[doc = #text])
    } else {
        quote!(#(#docs)*)
    }
}

/// Qt's push slots: `push_<name>(value)` for each `push` property, in property order. They
/// come before the declared slots (as in Qt, where they fix every slot's wire index).
fn push_slots(def: &ApiDef) -> Vec<MethodDef> {
    def.props
        .iter()
        .filter(|p| p.push)
        .map(|p| {
            let text = format!(
                "Asks the source to set `{}` (Qt's push slot): applied as it comes, or, for a \
                 `checked` property, as the source's `Set…` handler decides.",
                p.name
            );
            let doc: syn::Attribute = syn::parse_quote!(#[doc = #text]);
            MethodDef {
                docs: vec![doc],
                name: format_ident!("push_{}", p.name),
                args: vec![crate::parse::Arg {
                    name: Ident::new("value", p.name.span()),
                    ty: p.ty.clone(),
                }],
                ret: None,
            }
        })
        .collect()
}

/// Every slot in index order: the push slots, then the declared ones.
fn all_slots(def: &ApiDef) -> Vec<MethodDef> {
    let mut slots = push_slots(def);
    slots.extend(def.slots.iter().cloned());
    slots
}

fn variant(name: &Ident) -> Ident {
    Ident::new(&camel_case(&name.to_string()), name.span())
}

fn index(i: usize) -> u16 {
    // validate() keeps every member count within u16.
    u16::try_from(i).unwrap_or(u16::MAX)
}

/// `<#ty as PropertyType>`, spanned at the type. Every use of a property's value goes
/// through its methods, so a type lacking a bound is one identical obligation everywhere,
/// which rustc reports once, at the type, in the trait's words.
fn property_type(ty: &syn::Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::actix_remote_objects::__private::PropertyType>)
}

/// `Clone` and `Debug` for the generated struct `ty` whose fields are properties.
fn property_struct_impls(ty: &Ident, props: &[PropDef]) -> TokenStream {
    let clones = props.iter().map(|p| {
        let (name, pt) = (&p.name, property_type(&p.ty));
        quote!(#name: #pt::clone_value(&self.#name),)
    });
    let fields = props.iter().map(|p| {
        let (name, pt) = (&p.name, property_type(&p.ty));
        let lit = LitStr::new(&name.to_string(), name.span());
        quote!(.field(#lit, &::actix_remote_objects::__private::DebugWith(|f| #pt::fmt_value(&self.#name, f))))
    });
    let lit = LitStr::new(&ty.to_string(), ty.span());
    quote! {
        impl ::core::clone::Clone for #ty {
            fn clone(&self) -> Self {
                #ty { #(#clones)* }
            }
        }

        impl ::core::fmt::Debug for #ty {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#lit) #(#fields)* .finish()
            }
        }
    }
}

fn properties_struct(def: &ApiDef) -> TokenStream {
    let fields = def.props.iter().map(|p| {
        let (docs, name, ty) = (prop_docs(p), &p.name, &p.ty);
        quote!(#docs pub #name: #ty,)
    });
    let defaults = def.props.iter().map(|p| {
        let (name, ty) = (&p.name, &p.ty);
        match &p.default {
            // The annotated binding makes a default of the wrong type an error at the default.
            Some(expr) => quote_spanned!(expr.span()=> #name: { let value: #ty = #expr; value },),
            None => {
                let pt = property_type(ty);
                quote!(#name: #pt::default_value(),)
            }
        }
    });
    let partial_eq = partial_eq_struct(
        &format_ident!("Properties"),
        def.props.iter().map(|p| (&p.name, &p.ty)),
    );
    let impls = property_struct_impls(&format_ident!("Properties"), &def.props);
    quote! {
        /// Every property's value, with the declared defaults.
        pub struct Properties {
            #(#fields)*
        }

        #impls

        impl ::core::default::Default for Properties {
            fn default() -> Self {
                Properties { #(#defaults)* }
            }
        }

        #partial_eq
    }
}

/// `impl PartialEq for #ty`, comparing `fields` (name, type), that holds exactly when every
/// field's type is `PartialEq`: each type is a bound, and `for<'__eq>` makes rustc check it
/// where the impl is used rather than reject a false bound on a concrete type, so an API
/// with a property type lacking `PartialEq` simply has no `==`.
fn partial_eq_struct<'a>(
    ty: &Ident,
    fields: impl Iterator<Item = (&'a Ident, &'a syn::Type)> + Clone,
) -> TokenStream {
    let bounds = fields
        .clone()
        .map(|(_, t)| quote!(for<'__eq> #t: ::core::cmp::PartialEq,));
    let compares = fields.map(|(name, _)| quote!(&& self.#name == other.#name));
    quote! {
        impl ::core::cmp::PartialEq for #ty where #(#bounds)* {
            fn eq(&self, other: &Self) -> bool {
                true #(#compares)*
            }
        }
    }
}

/// Like [`partial_eq_struct`], for an enum of one-field tuple variants (variant, type).
fn partial_eq_enum<T: ToTokens>(
    ty: &Ident,
    variants: impl Iterator<Item = (Ident, T)> + Clone,
) -> TokenStream {
    let bounds = variants
        .clone()
        .map(|(_, t)| quote!(for<'__eq> #t: ::core::cmp::PartialEq,));
    let arms = variants.map(|(v, _)| quote!((#ty::#v(a), #ty::#v(b)) => a == b,));
    quote! {
        impl ::core::cmp::PartialEq for #ty where #(#bounds)* {
            fn eq(&self, other: &Self) -> bool {
                #[allow(unreachable_patterns)]
                match (self, other) {
                    #(#arms)*
                    _ => false,
                }
            }
        }
    }
}

fn property_change_enum(def: &ApiDef) -> TokenStream {
    let variants = def.props.iter().map(|p| {
        let (docs, v, ty) = (prop_docs(p), variant(&p.name), &p.ty);
        quote!(#docs #v(#ty),)
    });
    let partial_eq = partial_eq_enum(
        &format_ident!("PropertyChange"),
        def.props.iter().map(|p| (variant(&p.name), &p.ty)),
    );
    let clones = def.props.iter().map(|p| {
        let (v, pt) = (variant(&p.name), property_type(&p.ty));
        quote!(PropertyChange::#v(ref value) => PropertyChange::#v(#pt::clone_value(value)),)
    });
    let debugs = def.props.iter().map(|p| {
        let (v, pt) = (variant(&p.name), property_type(&p.ty));
        let lit = LitStr::new(&v.to_string(), v.span());
        quote! {
            PropertyChange::#v(ref value) => f
                .debug_tuple(#lit)
                .field(&::actix_remote_objects::__private::DebugWith(|f| #pt::fmt_value(value, f)))
                .finish(),
        }
    });
    quote! {
        /// One property's new value.
        pub enum PropertyChange {
            #(#variants)*
        }

        // `*self`: an API without properties has an empty enum, matched by no arm.
        impl ::core::clone::Clone for PropertyChange {
            fn clone(&self) -> Self {
                match *self {
                    #(#clones)*
                }
            }
        }

        impl ::core::fmt::Debug for PropertyChange {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match *self {
                    #(#debugs)*
                }
            }
        }

        impl __actix::Message for PropertyChange {
            type Result = ();
        }

        #partial_eq
    }
}

fn arg_fields(m: &MethodDef) -> Vec<TokenStream> {
    m.args
        .iter()
        .map(|a| {
            let (name, ty) = (&a.name, &a.ty);
            let doc = LitStr::new(&format!("The `{name}` argument."), name.span());
            quote!(#[doc = #doc] pub #name: #ty,)
        })
        .collect()
}

fn serde_derives(private: &TokenStream) -> TokenStream {
    let serde_path = LitStr::new(
        &format!("{}::serde", private.to_string().replace(' ', "")),
        Span::call_site(),
    );
    quote! {
        #[derive(Debug, Clone, #private::serde::Serialize, #private::serde::Deserialize)]
        #[serde(crate = #serde_path)]
    }
}

fn signal_types(def: &ApiDef, private: &TokenStream) -> TokenStream {
    let api = &def.name;
    let derives = serde_derives(private);
    let structs = def.signals.iter().map(|s| {
        let (docs, ty, fields) = (method_docs(s, "signal"), variant(&s.name), arg_fields(s));
        let partial_eq = partial_eq_struct(&ty, s.args.iter().map(|a| (&a.name, &a.ty)));
        quote! {
            #docs
            #derives
            pub struct #ty { #(#fields)* }

            #partial_eq

            impl __actix::Message for #ty {
                type Result = ();
            }

            impl ::actix_remote_objects::SignalType for #ty {
                type Api = super::#api;
                fn from_signal(signal: &Signal) -> ::core::option::Option<Self> {
                    #[allow(unreachable_patterns)]
                    match signal {
                        Signal::#ty(s) => ::core::option::Option::Some(s.clone()),
                        _ => ::core::option::Option::None,
                    }
                }
            }
        }
    });
    let variants = def.signals.iter().map(|s| {
        let (docs, ty) = (method_docs(s, "signal"), variant(&s.name));
        quote!(#docs #ty(#ty),)
    });
    let signal_eq = partial_eq_enum(
        &format_ident!("Signal"),
        def.signals
            .iter()
            .map(|s| (variant(&s.name), variant(&s.name))),
    );
    quote! {
        #(#structs)*

        /// One emitted signal with its arguments.
        #[derive(Debug, Clone)]
        pub enum Signal {
            #(#variants)*
        }

        impl __actix::Message for Signal {
            type Result = ();
        }

        #signal_eq
    }
}

fn slot_types(def: &ApiDef, private: &TokenStream) -> TokenStream {
    let api = &def.name;
    let derives = serde_derives(private);
    let slots = all_slots(def);
    let items = slots.iter().enumerate().map(|(i, s)| {
        let (docs, ty, fields) = (method_docs(s, "slot"), variant(&s.name), arg_fields(s));
        let output = s
            .ret
            .as_ref()
            .map_or_else(|| quote!(()), ToTokens::to_token_stream);
        let idx = index(i);
        quote! {
            #docs
            #derives
            pub struct #ty { #(#fields)* }

            impl __actix::Message for #ty {
                type Result = ::actix_remote_objects::SlotResult<#output>;
            }

            impl ::actix_remote_objects::Slot for #ty {
                type Api = super::#api;
                type Output = #output;
                const INDEX: u16 = #idx;
            }
        }
    });
    quote!(#(#items)*)
}

/// The message a `checked` property's write arrives as, one per such property.
fn write_messages(def: &ApiDef) -> TokenStream {
    let items = def.props.iter().filter(|p| p.checked).map(|p| {
        let (name, ty) = (&p.name, &p.ty);
        let message = format_ident!("Set{}", variant(name));
        let doc = LitStr::new(
            &format!(
                "A replica asks to set `{name}`: handle it to apply the value (return it), \
                 adjust it (return another) or refuse it (return an error, the replica's \
                 reason). What you return is set and seen by every replica, in order."
            ),
            name.span(),
        );
        let pt = property_type(ty);
        let lit = LitStr::new(&message.to_string(), message.span());
        quote! {
            #[doc = #doc]
            pub struct #message {
                /// The value the replica asks for.
                pub value: #ty,
            }

            impl ::core::clone::Clone for #message {
                fn clone(&self) -> Self {
                    #message { value: #pt::clone_value(&self.value) }
                }
            }

            impl ::core::fmt::Debug for #message {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.debug_struct(#lit)
                        .field("value", &::actix_remote_objects::__private::DebugWith(|f| #pt::fmt_value(&self.value, f)))
                        .finish()
                }
            }

            impl __actix::Message for #message {
                type Result = ::actix_remote_objects::SlotResult<#ty>;
            }
        }
    });
    quote!(#(#items)*)
}

fn simple_source(def: &ApiDef) -> TokenStream {
    let api = &def.name;
    let getters = def.props.iter().map(|p| {
        let (docs, name, ty) = (prop_docs(p), &p.name, &p.ty);
        let pt = property_type(ty);
        quote! {
            #docs
            pub fn #name(&self) -> #ty {
                self.state.read(|p| #pt::clone_value(&p.#name))
            }
        }
    });
    let setters = def.props.iter().enumerate().filter(|(_, p)| p.access != Access::Constant).map(|(i, p)| {
        let (name, ty, idx) = (&p.name, &p.ty, index(i));
        let pt = property_type(ty);
        let setter = format_ident!("set_{}", name);
        let doc = LitStr::new(
            &format!("Sets `{name}`; replicas are told only if the value changed. Returns whether it did."),
            name.span(),
        );
        quote! {
            #[doc = #doc]
            pub fn #setter(&self, value: #ty) -> ::core::result::Result<bool, ::actix_remote_objects::Error> {
                self.state.set(#idx, value, |p| &mut p.#name, |v, enc, out| #pt::encode_value_into(v, enc, out))
            }
        }
    });
    let emitters = def.signals.iter().enumerate().map(|(i, s)| {
        let (ty, idx) = (variant(&s.name), index(i));
        let emit = format_ident!("emit_{}", s.name);
        let params = s.args.iter().map(|a| {
            let (n, t) = (&a.name, &a.ty);
            quote!(#n: #t)
        });
        let names = s.args.iter().map(|a| &a.name);
        let doc = LitStr::new(&format!("Emits `{}` to every replica.", s.name), s.name.span());
        quote! {
            #[doc = #doc]
            pub fn #emit(&self, #(#params),*) -> ::core::result::Result<(), ::actix_remote_objects::Error> {
                self.state.emit(#idx, &#ty { #(#names),* })
            }
        }
    });
    let children = def
        .children
        .iter()
        .enumerate()
        .map(|(i, c)| source_child_methods(c, index(i)));
    quote! {
        /// The source's state: holds the property values and tells replicas about changes
        /// and signals. A source actor keeps one and returns it from
        /// `RemoteSource::simple_source`. Clones share the state.
        #[derive(Debug, Clone, Default)]
        pub struct SimpleSource {
            state: ::actix_remote_objects::__private::SourceState<super::#api>,
        }

        impl SimpleSource {
            /// A source holding `properties` (use this to set constant properties).
            pub fn new(properties: Properties) -> Self {
                SimpleSource { state: ::actix_remote_objects::__private::SourceState::new(properties) }
            }

            /// A copy of every property value.
            pub fn properties(&self) -> Properties {
                self.state.read(::core::clone::Clone::clone)
            }

            /// How many replica connections are subscribed.
            pub fn subscriber_count(&self) -> usize {
                self.state.subscriber_count()
            }

            #(#getters)*
            #(#setters)*
            #(#emitters)*
            #(#children)*
        }

        impl ::actix_remote_objects::__private::AsSourceState<super::#api> for SimpleSource {
            fn source_state(&self) -> &::actix_remote_objects::__private::SourceState<super::#api> {
                &self.state
            }
        }
    }
}

fn child_docs(c: &ChildDef) -> TokenStream {
    let docs = &c.docs;
    if docs.is_empty() {
        let text = LitStr::new(&format!("The `{}` sub-object.", c.name), c.name.span());
        quote!(#[doc = #text])
    } else {
        quote!(#(#docs)*)
    }
}

/// A source's getter and setter of one child.
fn source_child_methods(c: &ChildDef, idx: u16) -> TokenStream {
    let lib = quote!(::actix_remote_objects);
    let (docs, name, api) = (child_docs(c), &c.name, &c.api);
    if let Some(row) = &c.model {
        let get = if c.form == ModelForm::Tree {
            quote_spanned!(api.span()=> self.state.tree::<#row>(#idx))
        } else {
            quote_spanned!(api.span()=> self.state.model::<#row>(#idx))
        };
        return quote! {
            #docs
            pub fn #name(&self) -> #api {
                #get
            }
        };
    }
    let setter = format_ident!("set_{}", name);
    let (param, value) = if c.optional {
        (
            quote!(::core::option::Option<#lib::ChildSource<#api>>),
            quote!(child),
        )
    } else {
        (
            quote!(#lib::ChildSource<#api>),
            quote!(::core::option::Option::Some(child)),
        )
    };
    let doc = LitStr::new(
        &format!(
            "Points `{name}` at `child`: every replica gets the child's full state, in order \
             with this source's changes. Fails if `child` already hangs under a source."
        ),
        name.span(),
    );
    quote! {
        #docs
        pub fn #name(&self) -> ::core::option::Option<#lib::ChildSource<#api>> {
            self.state.child::<#api>(#idx)
        }

        #[doc = #doc]
        pub fn #setter(&self, child: #param) -> ::core::result::Result<(), #lib::Error> {
            self.state.set_child(#idx, #value)
        }
    }
}

fn replica_ext(def: &ApiDef) -> TokenStream {
    let api = &def.name;
    let mut decls = Vec::new();
    let mut impls = Vec::new();
    for (i, p) in def.props.iter().enumerate() {
        let (docs, name, ty, idx) = (prop_docs(p), &p.name, &p.ty, index(i));
        let pt = property_type(ty);
        decls.push(quote!(#docs fn #name(&self) -> #ty;));
        impls.push(quote! {
            fn #name(&self) -> #ty {
                self.with_properties(|p| #pt::clone_value(&p.#name))
            }
        });
        if p.push {
            let push = format_ident!("push_{}", name);
            let message = format_ident!("Push{}", variant(name));
            let doc = LitStr::new(
                &format!(
                    "Calls the push slot of `{name}`: resolves once the source applied it (the \
                     change arrives like any other, before this resolves) or refused it."
                ),
                name.span(),
            );
            decls.push(quote! {
                #[doc = #doc]
                fn #push(&self, value: #ty) -> ::actix_remote_objects::PendingWrite<()>;
            });
            impls.push(quote! {
                fn #push(&self, value: #ty) -> ::actix_remote_objects::PendingWrite<()> {
                    let replica = ::core::clone::Clone::clone(self);
                    ::actix_remote_objects::PendingWrite::new(async move {
                        replica.call(#message { value }).await
                    })
                }
            });
        }
        if p.access == Access::ReadWrite {
            let setter = format_ident!("set_{}", name);
            let doc = LitStr::new(
                &format!(
                    "Asks the source to set `{name}`; resolves to the value it applied (the \
                     change arrives like any other, before this resolves) or why it was refused."
                ),
                name.span(),
            );
            decls.push(quote! {
                #[doc = #doc]
                fn #setter(&self, value: #ty) -> ::actix_remote_objects::PendingWrite<#ty>;
            });
            impls.push(quote! {
                fn #setter(&self, value: #ty) -> ::actix_remote_objects::PendingWrite<#ty> {
                    let written = self.write_property_with(#idx, |enc| #pt::encode_value(&value, enc));
                    let replica = ::core::clone::Clone::clone(self);
                    ::actix_remote_objects::PendingWrite::new(async move {
                        written.await?;
                        ::core::result::Result::Ok(
                            replica.with_properties(|p| #pt::clone_value(&p.#name)),
                        )
                    })
                }
            });
        }
    }
    for (i, c) in def.children.iter().enumerate() {
        let (docs, name, api, idx) = (child_docs(c), &c.name, &c.api, index(i));
        if let Some(row) = &c.model {
            // Every use of the row type at the member's type: a row type that lacks a
            // bound is one error there.
            let (replica, get) = if c.form == ModelForm::Tree {
                (
                    quote_spanned!(api.span()=> ::core::option::Option<::actix_remote_objects::model::TreeReplica<#row>>),
                    quote_spanned!(api.span()=> self.child_tree::<#row>(#idx)),
                )
            } else {
                (
                    quote_spanned!(api.span()=> ::core::option::Option<::actix_remote_objects::model::ModelReplica<#row>>),
                    quote_spanned!(api.span()=> self.child_model::<#row>(#idx)),
                )
            };
            decls.push(quote! {
                #docs
                ///
                /// `None` until the replica is initialized.
                fn #name(&self) -> #replica;
            });
            impls.push(quote! {
                fn #name(&self) -> #replica {
                    #get
                }
            });
            continue;
        }
        decls.push(quote! {
            #docs
            ///
            /// `None` until the replica is initialized, and while the source holds none.
            fn #name(&self) -> ::core::option::Option<::actix_remote_objects::Replica<#api>>;
        });
        impls.push(quote! {
            fn #name(&self) -> ::core::option::Option<::actix_remote_objects::Replica<#api>> {
                self.child::<#api>(#idx)
            }
        });
    }
    quote! {
        /// Typed property getters (from the local cache) and setters for a replica.
        pub trait ReplicaExt {
            #(#decls)*
        }

        impl ReplicaExt for ::actix_remote_objects::Replica<super::#api> {
            #(#impls)*
        }
    }
}

fn type_name(t: &impl ToTokens) -> LitStr {
    LitStr::new(
        &t.to_token_stream()
            .to_string()
            .split_whitespace()
            .collect::<String>(),
        Span::call_site(),
    )
}

fn arg_infos(m: &MethodDef, private: &TokenStream) -> TokenStream {
    let infos = m.args.iter().map(|a| {
        let name = LitStr::new(&a.name.to_string(), a.name.span());
        let ty = type_name(&a.ty);
        quote!(#private::ArgInfo { name: #name, type_name: #ty })
    });
    quote!(&[#(#infos),*])
}

fn remote_object_impl(def: &ApiDef, module: &Ident) -> TokenStream {
    let lib = quote!(::actix_remote_objects);
    let private = quote!(#lib::__private);
    let api = &def.name;
    let wire_name = LitStr::new(&def.wire_name(), api.span());
    let sig = signature(def);
    let qt_enums = if def.enums.is_empty() {
        quote!()
    } else {
        let entries = def.enums.iter().map(|e| {
            let name = LitStr::new(&e.name.to_string(), e.name.span());
            let keys = e.keys.iter().map(|(_, k, v)| {
                let key = LitStr::new(&k.to_string(), k.span());
                let v = *v as i32;
                quote!((#key, #v))
            });
            quote!((#name, &[#(#keys),*]))
        });
        quote! {
            fn qt_enums() -> &'static [(&'static str, &'static [(&'static str, i32)])] {
                &[#(#entries),*]
            }
        }
    };
    let qt_rep = match &def.rep {
        // include_str! makes cargo rebuild the API when the file changes.
        Some((path, class)) => quote! {
            fn qt_rep() -> ::core::option::Option<(&'static str, &'static str)> {
                ::core::option::Option::Some((::core::include_str!(#path), #class))
            }
        },
        None => quote!(),
    };

    let prop_infos = def.props.iter().map(|p| {
        let name = LitStr::new(&p.name.to_string(), p.name.span());
        let ty = type_name(&p.ty);
        let access = match p.access {
            Access::ReadOnly => quote!(ReadOnly),
            Access::ReadWrite => quote!(ReadWrite),
            Access::Constant => quote!(Constant),
        };
        let persisted = p.persisted;
        quote!(#private::PropertyInfo { name: #name, type_name: #ty, access: #lib::Access::#access, persisted: #persisted })
    });
    let signal_infos = def.signals.iter().map(|s| {
        let name = LitStr::new(&s.name.to_string(), s.name.span());
        let args = arg_infos(s, &private);
        quote!(#private::SignalInfo { name: #name, args: #args })
    });
    let slots = all_slots(def);
    let slot_infos = slots.iter().map(|s| {
        let name = LitStr::new(&s.name.to_string(), s.name.span());
        let args = arg_infos(s, &private);
        let returns = s
            .ret
            .as_ref()
            .map_or_else(|| LitStr::new("()", Span::call_site()), type_name);
        quote!(#private::SlotInfo { name: #name, args: #args, returns: #returns })
    });

    let prop_schemas = def.props.iter().map(|p| {
        let name = LitStr::new(&p.name.to_string(), p.name.span());
        let (pt, type_name, persisted) = (property_type(&p.ty), type_name(&p.ty), p.persisted);
        let access = match p.access {
            Access::ReadOnly => quote!(ReadOnly),
            Access::ReadWrite => quote!(ReadWrite),
            Access::Constant => quote!(Constant),
        };
        quote!(#private::PropertySchema {
            name: ::std::string::String::from(#name),
            type_name: ::std::string::String::from(#type_name),
            format: #pt::trace_value(&mut b)?,
            access: #private::AccessFlag::#access,
            persisted: #persisted,
        })
    });
    let member_schema = |m: &MethodDef| {
        let name = LitStr::new(&m.name.to_string(), m.name.span());
        let args = m.args.iter().map(|a| {
            let (arg, ty) = (LitStr::new(&a.name.to_string(), a.name.span()), &a.ty);
            quote!(#private::Field { name: ::std::string::String::from(#arg), format: b.trace::<#ty>()? })
        });
        let returns = m
            .ret
            .as_ref()
            .map_or_else(|| quote!(()), ToTokens::to_token_stream);
        quote!(#private::MemberSchema {
            name: ::std::string::String::from(#name),
            args: ::std::vec![#(#args),*],
            returns: b.trace::<#returns>()?,
        })
    };
    let child_infos = def.children.iter().map(|c| {
        let (name, api, optional) = (LitStr::new(&c.name.to_string(), c.name.span()), &c.api, c.optional);
        if c.model.is_some() {
            let api = match c.form {
                ModelForm::List => quote!(#private::MODEL_API),
                ModelForm::Table => quote!(#private::TABLE_API),
                ModelForm::Tree => quote!(#private::TREE_API),
            };
            return quote!(#private::ChildInfo { name: #name, api: #api, optional: false, model: true });
        }
        quote!(#private::ChildInfo { name: #name, api: <#api as #lib::RemoteObject>::NAME, optional: #optional, model: false })
    });
    let child_schemas = def.children.iter().map(|c| {
        let (name, api, optional) = (
            LitStr::new(&c.name.to_string(), c.name.span()),
            &c.api,
            c.optional,
        );
        if let Some(row) = &c.model {
            return match c.form {
                ModelForm::List => {
                    quote_spanned!(api.span()=> #private::model_schema::<#row>(#name)?)
                }
                ModelForm::Table => {
                    quote_spanned!(api.span()=> #private::table_schema::<#row>(#name)?)
                }
                ModelForm::Tree => {
                    quote_spanned!(api.span()=> #private::tree_schema::<#row>(#name)?)
                }
            };
        }
        quote!(#private::child_schema::<#api>(#wire_name, #name, #optional)?)
    });
    let child_arms = def.children.iter().enumerate().map(|(i, c)| {
        let (idx, api) = (index(i), &c.api);
        if let Some(row) = &c.model {
            let visit = match c.form {
                ModelForm::List => quote_spanned!(api.span()=> visitor.visit_model::<#row>()),
                ModelForm::Table => quote_spanned!(api.span()=> visitor.visit_table::<#row>()),
                ModelForm::Tree => quote_spanned!(api.span()=> visitor.visit_tree::<#row>()),
            };
            return quote!(#idx => ::core::option::Option::Some(#visit),);
        }
        quote!(#idx => ::core::option::Option::Some(visitor.visit::<#api>()),)
    });
    let signal_schemas: Vec<TokenStream> = def.signals.iter().map(member_schema).collect();
    let slot_schemas: Vec<TokenStream> = slots.iter().map(member_schema).collect();
    let names: Vec<&Ident> = def.props.iter().map(|p| &p.name).collect();
    let pts: Vec<TokenStream> = def.props.iter().map(|p| property_type(&p.ty)).collect();
    let variants: Vec<Ident> = def.props.iter().map(|p| variant(&p.name)).collect();
    let indices: Vec<u16> = (0..def.props.len()).map(index).collect();
    let positions: Vec<usize> = (0..def.props.len()).collect();
    let signal_variants: Vec<Ident> = def.signals.iter().map(|s| variant(&s.name)).collect();
    let signal_indices: Vec<u16> = (0..def.signals.len()).map(index).collect();

    let set_arms = def.props.iter().enumerate().map(|(i, p)| {
        let (idx, name) = (index(i), &p.name);
        let lit = LitStr::new(&name.to_string(), name.span());
        if p.checked {
            quote!(#idx => ::core::result::Result::Err(#private::SetPropertyError::Checked(#lit)),)
        } else if p.access == Access::ReadWrite {
            let setter = format_ident!("set_{}", name);
            let pt = property_type(&p.ty);
            quote! {
                #idx => {
                    let value = #pt::decode_value(value, enc)?;
                    source.#setter(value).map(|_| ()).map_err(|e| #private::SetPropertyError::Source(e.to_string()))
                }
            }
        } else {
            quote!(#idx => ::core::result::Result::Err(#private::SetPropertyError::NotWritable(#lit)),)
        }
    });

    quote! {
        impl #api {
            /// The API's description, carrying `signature`.
            #[doc(hidden)]
            pub fn __describe(
                signature: u64,
            ) -> ::core::result::Result<#private::ApiSchema, #private::SchemaError> {
                let mut b = #private::SchemaBuilder::default();
                let properties = ::std::vec![#(#prop_schemas),*];
                let signals = ::std::vec![#(#signal_schemas),*];
                let slots = ::std::vec![#(#slot_schemas),*];
                let children = ::std::vec![#(#child_schemas),*];
                ::core::result::Result::Ok(#private::ApiSchema {
                    api: ::std::string::String::from(#wire_name),
                    signature,
                    properties,
                    signals,
                    slots,
                    types: b.types()?,
                    children,
                })
            }
        }

        impl #lib::RemoteObject for #api {
            const NAME: &'static str = #wire_name;
            const SIGNATURE: u64 = #sig;
            const PROPERTIES: &'static [#private::PropertyInfo] = &[#(#prop_infos),*];
            const SIGNALS: &'static [#private::SignalInfo] = &[#(#signal_infos),*];
            const SLOTS: &'static [#private::SlotInfo] = &[#(#slot_infos),*];
            const CHILDREN: &'static [#private::ChildInfo] = &[#(#child_infos),*];

            type Properties = #module::Properties;
            type PropertyChange = #module::PropertyChange;
            type Signal = #module::Signal;
            type SimpleSource = #module::SimpleSource;

            fn encode_properties(
                props: &#module::Properties,
                enc: #private::Encoding,
            ) -> ::core::result::Result<::std::vec::Vec<#private::Bytes>, #private::EncodeError> {
                ::core::result::Result::Ok(::std::vec![#(#pts::encode_value(&props.#names, enc)?),*])
            }

            fn decode_properties(
                values: &[#private::Bytes],
                enc: #private::Encoding,
            ) -> ::core::result::Result<#module::Properties, #private::DecodeError> {
                ::core::result::Result::Ok(#module::Properties {
                    #(#names: #pts::decode_value(values.get(#positions).map_or(&[][..], |b| &b[..]), enc)?,)*
                })
            }

            fn decode_property(
                index: u16,
                value: &[u8],
                enc: #private::Encoding,
            ) -> ::core::option::Option<::core::result::Result<#module::PropertyChange, #private::DecodeError>> {
                match index {
                    #(#indices => ::core::option::Option::Some(
                        #pts::decode_value(value, enc).map(#module::PropertyChange::#variants)
                    ),)*
                    _ => ::core::option::Option::None,
                }
            }

            fn apply_change(props: &mut #module::Properties, change: #module::PropertyChange) {
                match change {
                    #(#module::PropertyChange::#variants(value) => props.#names = value,)*
                }
            }

            fn property_change(props: &#module::Properties, index: u16) -> ::core::option::Option<#module::PropertyChange> {
                match index {
                    #(#indices => ::core::option::Option::Some(
                        #module::PropertyChange::#variants(#pts::clone_value(&props.#names))
                    ),)*
                    _ => ::core::option::Option::None,
                }
            }

            fn decode_signal(
                index: u16,
                args: &[u8],
                enc: #private::Encoding,
            ) -> ::core::option::Option<::core::result::Result<#module::Signal, #private::DecodeError>> {
                match index {
                    #(#signal_indices => ::core::option::Option::Some(
                        #private::decode(args, enc).map(#module::Signal::#signal_variants)
                    ),)*
                    _ => ::core::option::Option::None,
                }
            }

            fn visit_child<__Visitor: #private::ChildVisitor>(
                index: u16,
                visitor: __Visitor,
            ) -> ::core::option::Option<__Visitor::Output> {
                #[allow(unreachable_code, unused_variables)]
                match index {
                    #(#child_arms)*
                    _ => ::core::option::Option::None,
                }
            }

            fn signature() -> u64 {
                static SIGNATURE: ::std::sync::OnceLock<u64> = ::std::sync::OnceLock::new();
                *SIGNATURE.get_or_init(|| {
                    #private::structural_signature(#api::__describe(#sig), #sig)
                })
            }

            fn schema() -> ::core::result::Result<#private::ApiSchema, #private::SchemaError> {
                #api::__describe(<Self as #lib::RemoteObject>::signature())
            }

            #qt_rep
            #qt_enums

            fn set_from_remote(
                source: &#module::SimpleSource,
                index: u16,
                value: &[u8],
                enc: #private::Encoding,
            ) -> ::core::result::Result<(), #private::SetPropertyError> {
                match index {
                    #(#set_arms)*
                    _ => ::core::result::Result::Err(#private::SetPropertyError::UnknownProperty(index)),
                }
            }
        }
    }
}

fn hostable_impl(def: &ApiDef, module: &Ident) -> TokenStream {
    let private = quote!(::actix_remote_objects::__private);
    let api = &def.name;
    let slot_types: Vec<Ident> = def.slots.iter().map(|s| variant(&s.name)).collect();
    let checked: Vec<(usize, &crate::parse::PropDef)> = def
        .props
        .iter()
        .enumerate()
        .filter(|(_, p)| p.checked)
        .collect();
    let write_types: Vec<Ident> = checked
        .iter()
        .map(|(_, p)| format_ident!("Set{}", variant(&p.name)))
        .collect();
    let bounds = slot_types
        .iter()
        .map(|t| quote!(+ #private::HandlesSlot<#module::#t>))
        .chain(
            write_types
                .iter()
                .map(|t| quote!(+ #private::HandlesWrite<#module::#t>)),
        );
    let write_arms = checked.iter().zip(&write_types).map(|((i, p), message)| {
        let idx = index(*i);
        let setter = format_ident!("set_{}", p.name);
        let pt = property_type(&p.ty);
        quote! {
            #idx => {
                let value = #pt::decode_value(value, enc)?;
                let sent = addr.clone().send(#module::#message { value });
                let source = ::core::clone::Clone::clone(source);
                ::core::result::Result::Ok(::core::option::Option::Some(::std::boxed::Box::pin(async move {
                    #private::apply_write(sent.await, |v| source.#setter(v))
                })))
            }
        }
    });
    let pushed: Vec<&crate::parse::PropDef> = def.props.iter().filter(|p| p.push).collect();
    let arms = all_slots(def).into_iter().enumerate().map(|(i, s)| {
        let (idx, ty) = (index(i), variant(&s.name));
        let lit = LitStr::new(&s.name.to_string(), s.name.span());
        let decode = quote! {
            let msg: #module::#ty = #private::decode(args, enc)
                .map_err(|source| #private::InvokeError::BadArguments { slot: #lit, source })?;
        };
        let Some(prop) = pushed.get(i) else {
            return quote!(#idx => { #decode ::core::result::Result::Ok(#private::call_slot(addr, msg, enc)) });
        };
        let setter = format_ident!("set_{}", prop.name);
        if prop.checked {
            let message = format_ident!("Set{}", variant(&prop.name));
            quote! {
                #idx => {
                    #decode
                    let sent = addr.clone().send(#module::#message { value: msg.value });
                    let source = ::core::clone::Clone::clone(source);
                    ::core::result::Result::Ok(::std::boxed::Box::pin(async move {
                        #private::pushed(#private::apply_write(sent.await, |v| source.#setter(v)), enc)
                    }))
                }
            }
        } else {
            quote! {
                #idx => {
                    #decode
                    let applied = source.#setter(msg.value).map(|_| ()).map_err(|e| e.to_string());
                    let outcome = #private::pushed(applied, enc);
                    ::core::result::Result::Ok(::std::boxed::Box::pin(async move { outcome }))
                }
            }
        }
    });
    quote! {
        // The actor's type parameter has a name no API would take (an API may well be `A`).
        impl<__SourceActor> #private::Hostable<__SourceActor> for #api
        where
            __SourceActor: #private::actix::Actor<Context = #private::actix::Context<__SourceActor>>
                #(#bounds)*,
        {
            fn invoke(
                addr: &#private::actix::Addr<__SourceActor>,
                source: &#module::SimpleSource,
                slot: u16,
                args: &[u8],
                enc: #private::Encoding,
            ) -> ::core::result::Result<#private::SlotFuture, #private::InvokeError> {
                match slot {
                    #(#arms)*
                    _ => ::core::result::Result::Err(#private::InvokeError::UnknownSlot(slot)),
                }
            }

            fn write(
                addr: &#private::actix::Addr<__SourceActor>,
                source: &#module::SimpleSource,
                index: u16,
                value: &[u8],
                enc: #private::Encoding,
            ) -> ::core::result::Result<::core::option::Option<#private::WriteFuture>, #private::SetPropertyError> {
                match index {
                    #(#write_arms)*
                    _ => <#api as ::actix_remote_objects::RemoteObject>::set_from_remote(source, index, value, enc)
                        .map(|()| ::core::option::Option::None),
                }
            }
        }
    }
}
