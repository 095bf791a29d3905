//! Signatures cover what the types are, not only what they are called: a struct or enum
//! changed on one side is a `SignatureMismatch` that names the first difference, and the
//! other replicas on the same connection are not disturbed.

mod support;

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use actix_remote_objects::RemoteObject;
use serde::{Deserialize, Serialize};
use support::*;

/// The host's version of the API.
mod source {
    use super::*;

    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub struct Pen {
        pub x: u32,
        pub y: u32,
    }

    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub enum Mode {
        #[default]
        Idle,
        Drawing,
        Jammed,
    }

    remote_object! {
        pub Plotter {
            prop pen: Pen;
            prop mode: Mode;
        }
    }

    pub struct PlotterService(pub plotter::SimpleSource);

    impl Actor for PlotterService {
        type Context = Context<Self>;
    }

    impl RemoteSource for PlotterService {
        type Api = Plotter;
        fn simple_source(&self) -> &plotter::SimpleSource {
            &self.0
        }
    }
}

/// The same definition, word for word, over types that changed: each module is one way a
/// replica's types can drift from the source's.
macro_rules! drifted {
    ($module:ident, $pen:item, $mode:item) => {
        mod $module {
            use super::*;
            #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
            $pen
            #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
            $mode
            remote_object! {
                pub Plotter {
                    prop pen: Pen;
                    prop mode: Mode;
                }
            }
        }
    };
}

drifted!(
    swapped_fields,
    pub struct Pen {
        pub y: u32,
        pub x: u32,
    },
    pub enum Mode {
        #[default]
        Idle,
        Drawing,
        Jammed,
    }
);

drifted!(
    added_field,
    pub struct Pen {
        pub x: u32,
        pub y: u32,
        pub z: u32,
    },
    pub enum Mode {
        #[default]
        Idle,
        Drawing,
        Jammed,
    }
);

drifted!(
    renamed_variant,
    pub struct Pen {
        pub x: u32,
        pub y: u32,
    },
    pub enum Mode {
        #[default]
        Idle,
        Drawing,
        OutOfPaper,
    }
);

/// A host serving the plotter twice: as `Plotter` (acquired by the drifted replica) and as
/// `Plotter2` (acquired by a matching one on the same connection).
async fn serve() -> (Host, source::plotter::SimpleSource) {
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let state = source::plotter::SimpleSource::default();
    state.set_pen(source::Pen { x: 1, y: 2 }).unwrap();
    host.enable_remoting(source::PlotterService(state.clone()))
        .await
        .unwrap();
    host.enable_remoting_as(source::PlotterService(state.clone()), "Plotter2")
        .await
        .unwrap();
    (host, state)
}

async fn expect_named_mismatch<A: RemoteObject>(difference: &str) {
    let _guard = init();
    assert_eq!(
        A::SIGNATURE,
        source::Plotter::SIGNATURE,
        "the declarations read the same"
    );
    let (host, state) = serve().await;
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let matching = node.acquire_named::<source::Plotter>("Plotter2");
    let drifted = node.acquire::<A>();
    let error = drifted.wait_for_source(TIMEOUT).await.unwrap_err();
    assert!(error.is_signature_mismatch(), "{error}");
    assert!(
        error.to_string().contains(difference),
        "names the difference {difference:?}: {error}"
    );
    assert_eq!(drifted.state(), ReplicaState::SignatureMismatch);
    // The matching replica on the same connection is untouched and follows the source.
    matching.wait_for_source(TIMEOUT).await.unwrap();
    let mut changes = matching.property_changes();
    state.set_mode(source::Mode::Drawing).unwrap();
    let change = futures::StreamExt::next(&mut changes).await.unwrap();
    assert!(
        matches!(
            change,
            source::plotter::PropertyChange::Mode(source::Mode::Drawing)
        ),
        "{change:?}"
    );
    assert_eq!(matching.properties().pen, source::Pen { x: 1, y: 2 });
    assert_eq!(drifted.state(), ReplicaState::SignatureMismatch);
    host.shutdown().await;
}

#[actix::test]
async fn swapped_struct_fields_are_a_mismatch_naming_the_field() {
    expect_named_mismatch::<swapped_fields::Plotter>(
        "property pen: struct Pen: field 0 is `y` here and `x` at the source",
    )
    .await;
}

#[actix::test]
async fn an_added_struct_field_is_a_mismatch_naming_the_count() {
    expect_named_mismatch::<added_field::Plotter>(
        "property pen: struct Pen: 3 fields here and 2 at the source",
    )
    .await;
}

#[actix::test]
async fn a_renamed_enum_variant_is_a_mismatch_naming_the_variant() {
    expect_named_mismatch::<renamed_variant::Plotter>(
        "property mode: enum Mode variant 2 is `OutOfPaper` here and `Jammed` at the source",
    )
    .await;
}
