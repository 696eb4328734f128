//! Screen capture as the logged-in user, for the "Get help" window and the
//! `help` command: the whole virtual screen (every monitor, placed where it
//! sits) as one image, PNG encoding, and scaling down until a PNG fits a
//! byte budget.
//!
//! Capture itself needs a desktop session and is tested under Xvfb
//! (`tests/capture_xvfb.rs`); composing monitors, fitting and thumbnails are
//! pure and unit-tested on generated images.

use screenshots::image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use screenshots::image::imageops::{self, FilterType};
use screenshots::image::{ColorType, DynamicImage, ImageEncoder, RgbaImage};
use std::borrow::Cow;

pub use screenshots::image;

/// Each fitting step scales the picture to this fraction of the last size.
pub const FIT_SCALE: f64 = 0.75;
/// Steps [`fit_png`] takes before it gives up (0.75^12 ≈ 3 % of each side).
pub const MAX_FIT_STEPS: u32 = 12;
/// The largest virtual screen captured, in pixels (about three 8K
/// monitors): a bound against nonsense from the display server, since the
/// composed image is held in memory.
pub const MAX_VIRTUAL_SCREEN_PIXELS: u64 = 100_000_000;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("no desktop session: DISPLAY/WAYLAND_DISPLAY is not set")]
    NoDisplay,
    #[error("the display server reports no screens")]
    NoScreens,
    #[error("cannot capture the screen: {0}")]
    Capture(String),
    #[error("the virtual screen is {width}x{height} pixels; at most {max} pixels are captured")]
    TooManyPixels { width: u64, height: u64, max: u64 },
    #[error("cannot encode the screenshot as PNG: {0}")]
    Encode(String),
    #[error(
        "the screenshot does not fit in {max_bytes} bytes even scaled down to {width}x{height}"
    )]
    DoesNotFit {
        max_bytes: usize,
        width: u32,
        height: u32,
    },
}

/// Whether this process has a desktop session to capture, by its environment.
pub fn display_available() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    set("DISPLAY") || set("WAYLAND_DISPLAY")
}

/// Captures the whole virtual screen: every monitor, placed where it sits;
/// with one monitor, that monitor.
pub fn capture_image() -> Result<RgbaImage, CaptureError> {
    if !display_available() {
        return Err(CaptureError::NoDisplay);
    }
    let screens = screenshots::Screen::all().map_err(|e| CaptureError::Capture(e.to_string()))?;
    let mut parts = Vec::with_capacity(screens.len());
    for screen in screens {
        let info = screen.display_info;
        let image = screen
            .capture()
            .map_err(|e| CaptureError::Capture(format!("monitor {}: {e}", info.id)))?;
        parts.push(Placed {
            x: info.x,
            y: info.y,
            logical_width: info.width,
            image,
        });
    }
    compose(parts)
}

/// [`capture_image`] encoded as PNG at full resolution.
pub fn capture_png() -> Result<Vec<u8>, CaptureError> {
    encode_png(&capture_image()?)
}

/// One monitor's picture and where the display server puts it.
#[derive(Debug, Clone)]
pub struct Placed {
    /// Position in the display server's (possibly logical) coordinates.
    pub x: i32,
    pub y: i32,
    /// The monitor's width in those coordinates; with the picture's own
    /// width it gives the scale to place the picture in pixels.
    pub logical_width: u32,
    pub image: RgbaImage,
}

/// Lays the monitors' pictures out on one canvas, as the virtual screen.
pub fn compose(mut parts: Vec<Placed>) -> Result<RgbaImage, CaptureError> {
    if parts.len() == 1 {
        return Ok(parts.remove(0).image);
    }
    let min_x = parts
        .iter()
        .map(|p| p.x)
        .min()
        .ok_or(CaptureError::NoScreens)?;
    let min_y = parts
        .iter()
        .map(|p| p.y)
        .min()
        .ok_or(CaptureError::NoScreens)?;
    let origin = |p: &Placed| {
        let scale = if p.logical_width == 0 {
            1.0
        } else {
            f64::from(p.image.width()) / f64::from(p.logical_width)
        };
        let x = (f64::from(p.x) - f64::from(min_x)) * scale;
        let y = (f64::from(p.y) - f64::from(min_y)) * scale;
        (x.round() as u64, y.round() as u64)
    };
    let (mut width, mut height) = (0u64, 0u64);
    for p in &parts {
        let (x, y) = origin(p);
        width = width.max(x + u64::from(p.image.width()));
        height = height.max(y + u64::from(p.image.height()));
    }
    if width.saturating_mul(height) > MAX_VIRTUAL_SCREEN_PIXELS {
        return Err(CaptureError::TooManyPixels {
            width,
            height,
            max: MAX_VIRTUAL_SCREEN_PIXELS,
        });
    }
    // Both fit in u32: their product is bounded above.
    let mut canvas = RgbaImage::new(width as u32, height as u32);
    for p in &parts {
        let (x, y) = origin(p);
        imageops::replace(&mut canvas, &p.image, x as i64, y as i64);
    }
    Ok(canvas)
}

/// Encodes as an RGB PNG: screens are opaque, so the alpha channel would
/// only cost bytes.
pub fn encode_png(image: &RgbaImage) -> Result<Vec<u8>, CaptureError> {
    let rgb = DynamicImage::ImageRgba8(image.clone()).to_rgb8();
    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Default, PngFilter::Adaptive)
        .write_image(rgb.as_raw(), rgb.width(), rgb.height(), ColorType::Rgb8)
        .map_err(|e| CaptureError::Encode(e.to_string()))?;
    Ok(png)
}

/// Encodes `image` as PNG, scaling it down by [`FIT_SCALE`] per step (at
/// most [`MAX_FIT_STEPS`] steps) while the PNG is over `max_bytes`.
pub fn fit_png(image: &RgbaImage, max_bytes: usize) -> Result<Vec<u8>, CaptureError> {
    let mut current = Cow::Borrowed(image);
    for step in 1..=MAX_FIT_STEPS + 1 {
        let png = encode_png(&current)?;
        if png.len() <= max_bytes {
            return Ok(png);
        }
        let next = scaled_size(image.dimensions(), FIT_SCALE.powi(step as i32));
        if step > MAX_FIT_STEPS || next == current.dimensions() {
            break;
        }
        // Always from the original, so the blur of each step does not add up.
        current = Cow::Owned(imageops::resize(
            image,
            next.0,
            next.1,
            FilterType::Triangle,
        ));
    }
    let (width, height) = current.dimensions();
    Err(CaptureError::DoesNotFit {
        max_bytes,
        width,
        height,
    })
}

/// `size` scaled by `factor`, never below 1x1.
pub fn scaled_size((width, height): (u32, u32), factor: f64) -> (u32, u32) {
    let scale = |side: u32| ((f64::from(side) * factor).round() as u32).max(1);
    (scale(width), scale(height))
}

/// The largest size with `image`'s aspect ratio inside `max_width` x
/// `max_height`; never larger than the image.
pub fn thumbnail_size((width, height): (u32, u32), max_width: u32, max_height: u32) -> (u32, u32) {
    if width == 0 || height == 0 {
        return (width, height);
    }
    let factor = (f64::from(max_width) / f64::from(width))
        .min(f64::from(max_height) / f64::from(height))
        .min(1.0);
    scaled_size((width, height), factor)
}

/// A small copy of `image` for showing in the window.
pub fn thumbnail(image: &RgbaImage, max_width: u32, max_height: u32) -> RgbaImage {
    let (w, h) = thumbnail_size(image.dimensions(), max_width, max_height);
    if (w, h) == image.dimensions() {
        return image.clone();
    }
    imageops::thumbnail(image, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use screenshots::image::Rgba;

    /// Noise compresses badly, so its PNG is about as large as its pixels.
    fn noise(width: u32, height: u32) -> RgbaImage {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        RgbaImage::from_fn(width, height, |_, _| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let [r, g, b, ..] = state.to_le_bytes();
            Rgba([r, g, b, 255])
        })
    }

    fn decoded_size(png: &[u8]) -> (u32, u32) {
        let image = screenshots::image::load_from_memory(png).unwrap();
        (image.width(), image.height())
    }

    #[test]
    fn a_png_that_fits_is_kept_at_full_size() {
        let image = noise(64, 48);
        let png = fit_png(&image, 1024 * 1024).unwrap();
        assert_eq!(decoded_size(&png), (64, 48));
        assert_eq!(png, encode_png(&image).unwrap());
    }

    #[test]
    fn a_png_over_the_budget_is_scaled_down_until_it_fits() {
        let image = noise(400, 300);
        let full = encode_png(&image).unwrap().len();
        let budget = full / 3;
        let png = fit_png(&image, budget).unwrap();
        assert!(png.len() <= budget, "{} > {budget}", png.len());
        let (w, h) = decoded_size(&png);
        assert!(w < 400 && h < 300, "{w}x{h}");
        // Only as small as needed: one step larger would not have fitted.
        let step = (1..=MAX_FIT_STEPS as i32)
            .find(|&k| scaled_size((400, 300), FIT_SCALE.powi(k)) == (w, h))
            .expect("the size is one of the fitting steps");
        let (lw, lh) = scaled_size((400, 300), FIT_SCALE.powi(step - 1));
        let larger = imageops::resize(&image, lw, lh, FilterType::Triangle);
        assert!(encode_png(&larger).unwrap().len() > budget);
        // The aspect ratio survives.
        assert!((f64::from(w) / f64::from(h) - 4.0 / 3.0).abs() < 0.05);
    }

    #[test]
    fn a_budget_nothing_fits_is_refused_after_bounded_steps() {
        let image = noise(200, 100);
        match fit_png(&image, 10) {
            Err(CaptureError::DoesNotFit {
                max_bytes,
                width,
                height,
            }) => {
                assert_eq!(max_bytes, 10);
                let smallest = scaled_size((200, 100), FIT_SCALE.powi(MAX_FIT_STEPS as i32));
                assert_eq!((width, height), smallest);
            }
            other => panic!("expected DoesNotFit, got {other:?}"),
        }
    }

    #[test]
    fn scaling_never_goes_below_one_pixel() {
        assert_eq!(scaled_size((3, 1), 0.01), (1, 1));
        assert_eq!(scaled_size((1000, 500), 0.75), (750, 375));
    }

    #[test]
    fn thumbnails_keep_the_aspect_ratio_and_never_grow() {
        assert_eq!(thumbnail_size((1920, 1080), 320, 240), (320, 180));
        assert_eq!(thumbnail_size((1080, 1920), 320, 240), (135, 240));
        assert_eq!(thumbnail_size((100, 50), 320, 240), (100, 50));
        let thumb = thumbnail(&noise(1280, 720), 320, 240);
        assert_eq!(thumb.dimensions(), (320, 180));
    }

    #[test]
    fn monitors_are_placed_side_by_side_on_one_canvas() {
        let left = RgbaImage::from_pixel(100, 80, Rgba([255, 0, 0, 255]));
        let right = RgbaImage::from_pixel(50, 40, Rgba([0, 0, 255, 255]));
        let canvas = compose(vec![
            Placed {
                x: 100,
                y: 0,
                logical_width: 50,
                image: right,
            },
            Placed {
                x: 0,
                y: 0,
                logical_width: 100,
                image: left,
            },
        ])
        .unwrap();
        assert_eq!(canvas.dimensions(), (150, 80));
        assert_eq!(canvas.get_pixel(10, 10), &Rgba([255, 0, 0, 255]));
        assert_eq!(canvas.get_pixel(120, 10), &Rgba([0, 0, 255, 255]));
        // Below the smaller monitor nothing was captured.
        assert_eq!(canvas.get_pixel(120, 60), &Rgba([0, 0, 0, 0]));
    }

    #[test]
    fn negative_positions_and_hidpi_scale_are_placed_in_pixels() {
        // A 2x monitor at logical (-50, 0), 50 logical = 100 pixels wide.
        let hidpi = RgbaImage::from_pixel(100, 60, Rgba([0, 255, 0, 255]));
        let plain = RgbaImage::from_pixel(40, 30, Rgba([9, 9, 9, 255]));
        let canvas = compose(vec![
            Placed {
                x: -50,
                y: 0,
                logical_width: 50,
                image: hidpi,
            },
            Placed {
                x: 0,
                y: 0,
                logical_width: 40,
                image: plain,
            },
        ])
        .unwrap();
        assert_eq!(canvas.dimensions(), (100, 60));
        assert_eq!(canvas.get_pixel(99, 59), &Rgba([0, 255, 0, 255]));
    }

    #[test]
    fn an_absurd_virtual_screen_is_refused() {
        let tiny = || RgbaImage::new(1, 1);
        let err = compose(vec![
            Placed {
                x: 0,
                y: 0,
                logical_width: 1,
                image: tiny(),
            },
            Placed {
                x: 200_000,
                y: 200_000,
                logical_width: 1,
                image: tiny(),
            },
        ])
        .unwrap_err();
        assert!(matches!(err, CaptureError::TooManyPixels { .. }), "{err}");
    }

    #[test]
    fn encoded_pngs_are_opaque_rgb() {
        let png = encode_png(&noise(8, 8)).unwrap();
        let image = screenshots::image::load_from_memory(&png).unwrap();
        assert_eq!(image.color(), ColorType::Rgb8);
    }
}
