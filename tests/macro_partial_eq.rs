//! The generated `Properties`, `PropertyChange`, signal structs and `Signal` compare with
//! `==` when every type they hold does, so tests can `assert_eq!` them; an API holding a
//! type without `PartialEq` still compiles (its types just have no `==`).

use actix_remote_objects::prelude::*;
use serde::{Deserialize, Serialize};

remote_object! {
    pub Sensor {
        prop label: String = "probe".to_string();
        prop celsius: f64;
        signal alarm(level: u8, text: String);
        signal reset();
    }
}

/// Everything a property needs, and no `PartialEq`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Opaque {
    pub bytes: Vec<u8>,
}

remote_object! {
    pub Blob {
        prop body: Opaque;
        prop size: u32;
        signal sent(what: Opaque);
    }
}

#[test]
fn generated_values_compare_field_by_field() {
    let defaults = sensor::Properties::default();
    assert_eq!(
        defaults,
        sensor::Properties {
            label: "probe".into(),
            celsius: 0.0
        }
    );
    assert_ne!(
        defaults,
        sensor::Properties {
            celsius: 1.5,
            ..defaults.clone()
        }
    );
    assert_eq!(
        sensor::PropertyChange::Celsius(2.0),
        sensor::PropertyChange::Celsius(2.0)
    );
    assert_ne!(
        sensor::PropertyChange::Celsius(2.0),
        sensor::PropertyChange::Celsius(3.0)
    );
    assert_ne!(
        sensor::PropertyChange::Label("2".into()),
        sensor::PropertyChange::Celsius(2.0)
    );
    let alarm = sensor::Alarm {
        level: 3,
        text: "hot".into(),
    };
    assert_eq!(alarm, alarm.clone());
    assert_ne!(
        alarm,
        sensor::Alarm {
            level: 4,
            ..alarm.clone()
        }
    );
    assert_eq!(
        sensor::Signal::Reset(sensor::Reset {}),
        sensor::Signal::Reset(sensor::Reset {})
    );
    assert_ne!(
        sensor::Signal::Alarm(alarm),
        sensor::Signal::Reset(sensor::Reset {})
    );
}

#[test]
fn an_api_with_a_type_lacking_partial_eq_still_works() {
    let props = blob::Properties {
        body: Opaque { bytes: vec![1] },
        size: 1,
    };
    // No `==` on these, but everything else is there.
    assert_eq!(props.clone().size, 1);
    let change = blob::PropertyChange::Size(2);
    assert!(matches!(change, blob::PropertyChange::Size(2)));
}
