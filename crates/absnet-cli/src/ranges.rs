//! Parsers that give every numeric option its range, so a value outside it is refused by name
//! before anything runs.

use anyhow::{Result, bail};

/// A number in [0, 1] (`--opacity`).
pub fn unit_interval(text: &str) -> Result<f32, String> {
    let value: f32 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("{text} is outside 0–1"));
    }
    Ok(value)
}

/// A number in (0, 1] (`--scale`).
pub fn share(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if !(value > 0.0 && value <= 1.0) {
        return Err(format!("{text} is outside (0, 1]"));
    }
    Ok(value)
}

/// `WIDTHxHEIGHT`, each from 1 to 65,535.
pub fn size(text: &str) -> Result<[u32; 2], String> {
    let (w, h) = text
        .split_once('x')
        .ok_or_else(|| format!("`{text}`: expected WIDTHxHEIGHT"))?;
    let parse = |v: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|v| (1..=65_535).contains(v))
            .ok_or_else(|| format!("`{text}`: `{v}` is not a whole number from 1 to 65535"))
    };
    Ok([parse(w)?, parse(h)?])
}

/// A model input `WIDTHxHEIGHT`: at least 8×8 (the encoder's stride) and at most 4 MP.
pub fn input_size(text: &str) -> Result<[u32; 2], String> {
    let [w, h] = size(text)?;
    if w < 8 || h < 8 || u64::from(w) * u64::from(h) > 4_000_000 {
        return Err(format!(
            "`{text}`: a model input is at least 8x8 and at most 4,000,000 pixels"
        ));
    }
    Ok([w, h])
}

/// Refuses `size` above the pixel limit before anything of that size is allocated.
pub fn check_pixels(size: [u32; 2], max_pixels: u64) -> Result<()> {
    let pixels = u64::from(size[0]) * u64::from(size[1]);
    if pixels > max_pixels {
        bail!(
            "--size {}x{} is {pixels} pixels, over the limit of {max_pixels} (--max-pixels)",
            size[0],
            size[1]
        );
    }
    Ok(())
}

/// `on` or `off`.
pub fn on_off(value: &str) -> Result<bool, String> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("`{other}`: expected on or off")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_their_range_are_refused() {
        assert!(
            unit_interval("nan").is_err()
                && unit_interval("2").is_err()
                && unit_interval("-0.1").is_err()
        );
        assert_eq!(unit_interval("0.25"), Ok(0.25));
        assert!(share("0").is_err() && share("1.5").is_err() && share("nan").is_err());
        assert!(input_size("100000x100000").is_err() && input_size("4x4").is_err());
        assert_eq!(input_size("320x240"), Ok([320, 240]));
        assert!(check_pixels([5000, 5000], 1_000_000).is_err());
    }
}
