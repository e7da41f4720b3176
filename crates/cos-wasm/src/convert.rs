//! Values across the Wasm boundary: JS values in, typed Rust out, with no
//! JSON text in between. Incoming values are hostile (a page built them), so
//! the walk charges every field, element and string to a `Budget` before it
//! copies anything; outgoing values are the engine's own serde types.

use cos_core::message::Budget;
use cos_core::{CosError, Result};
use js_sys::{Array, JsString, Object, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Number, Value};
use wasm_bindgen::{JsCast, JsValue};

/// A value from the extension's own JS (outcomes, callers): trusted, so
/// not bounded like a page's, but still decoded by type.
pub fn from_host<T: DeserializeOwned>(value: &JsValue) -> Result<T> {
    walk(value, &mut Budget::unlimited(), 1)
        .and_then(|v| serde_json::from_value(v).map_err(|e| CosError::InvalidMessage(e.to_string())))
        .map_err(|e| CosError::Internal(format!("the host sent {e}")))
}

/// An engine value for JS.
pub fn to_js<T: Serialize>(value: &T) -> JsValue {
    build(&serde_json::to_value(value).expect("engine values serialize"))
}

/// A page-built request, bounded, for the engine's decoder.
pub fn from_page(value: &JsValue) -> Result<Value> {
    walk(value, &mut Budget::default(), 1)
}

fn walk(value: &JsValue, budget: &mut Budget, depth: usize) -> Result<Value> {
    budget.enter(depth)?;
    if value.is_null() || value.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = value.as_f64() {
        return number(n).map(Value::Number);
    }
    if let Some(s) = value.dyn_ref::<JsString>() {
        budget.string(s.length() as usize)?;
        return Ok(Value::String(String::from(s)));
    }
    if let Some(array) = value.dyn_ref::<Array>() {
        let mut items = Vec::new();
        for i in 0..array.length() {
            budget.item()?;
            items.push(walk(&array.get(i), budget, depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    if is_plain_object(value) {
        let mut map = Map::new();
        for key in Object::keys(value.unchecked_ref::<Object>()).iter() {
            budget.item()?;
            let name = key.dyn_into::<JsString>().map_err(|_| unsupported())?;
            budget.string(name.length() as usize)?;
            let field = Reflect::get(value, &name).map_err(|_| unsupported())?;
            // `{position: undefined}` means the member is absent, as in WebIDL.
            if !field.is_undefined() {
                map.insert(String::from(&name), walk(&field, budget, depth + 1)?);
            }
        }
        return Ok(Value::Object(map));
    }
    Err(unsupported())
}

fn unsupported() -> CosError {
    CosError::InvalidMessage("a request holds only plain objects, arrays, strings, numbers and booleans".into())
}

/// Objects made by `{}` (or with a null prototype), not Maps, Dates, Blobs, …
fn is_plain_object(value: &JsValue) -> bool {
    value.is_object() && {
        let proto = Object::get_prototype_of(value);
        proto.is_null() || proto == Object::get_prototype_of(&Object::new())
    }
}

/// Whole JS numbers become integers, as WebIDL's `unsigned long long`
/// conversion would take them (so `seek(2 ** 60)` reaches the engine as a
/// position it refuses, ending the session, rather than as a float the
/// decoder refuses); fractions stay floats, which the schema refuses where
/// it wants integers.
fn number(n: f64) -> Result<Number> {
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    const I64_START: f64 = -9_223_372_036_854_775_808.0;
    match n {
        n if n.fract() == 0.0 && (0.0..U64_END).contains(&n) => Ok(Number::from(n as u64)),
        n if n.fract() == 0.0 && (I64_START..0.0).contains(&n) => Ok(Number::from(n as i64)),
        n => Number::from_f64(n).ok_or_else(|| CosError::InvalidMessage("numbers must be finite".into())),
    }
}

fn build(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Number(n) => JsValue::from_f64(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JsValue::from_str(s),
        Value::Array(items) => items.iter().map(build).collect::<Array>().into(),
        Value::Object(map) => {
            let object = Object::new();
            for (key, field) in map {
                // Defining a data property on a fresh plain object cannot fail.
                let _ = Reflect::set(&object, &JsValue::from_str(key), &build(field));
            }
            object.into()
        }
    }
}
