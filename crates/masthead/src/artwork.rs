//! Illustrations for demo posts, drawn as SVG at seed time from a scene and a
//! palette, varied per post by a seed. Original work: no photos are shipped.

use std::fmt::Write;

pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 800;

struct Palette {
    sky: [&'static str; 2],
    far: &'static str,
    near: &'static str,
    water: &'static str,
    light: &'static str,
}

fn palette(name: &str) -> Palette {
    match name {
        "dawn" => Palette {
            sky: ["#f6c9a8", "#8fa9c9"],
            far: "#6d7b96",
            near: "#3e4a61",
            water: "#7f97b5",
            light: "#ffe7b0",
        },
        "dusk" => Palette {
            sky: ["#2f2a55", "#e07a5f"],
            far: "#4b3a5c",
            near: "#231d33",
            water: "#5a4f7a",
            light: "#ffd27a",
        },
        "night" => Palette {
            sky: ["#0b1026", "#28345c"],
            far: "#1b2340",
            near: "#0d1226",
            water: "#1d2a4d",
            light: "#ffe28a",
        },
        "storm" => Palette {
            sky: ["#3b4350", "#7d8794"],
            far: "#4a525e",
            near: "#2a3038",
            water: "#4f5d6b",
            light: "#d9e2ec",
        },
        "autumn" => Palette {
            sky: ["#f3d9b1", "#c9a27e"],
            far: "#9c6b3f",
            near: "#5d3a1f",
            water: "#7c8f9e",
            light: "#fff1d6",
        },
        "spring" => Palette {
            sky: ["#d7f0f7", "#9fd3e6"],
            far: "#7fb77e",
            near: "#3f7d4a",
            water: "#6fb0c9",
            light: "#fffbe0",
        },
        _ => Palette {
            sky: ["#cfe6f5", "#7fb3d9"],
            far: "#7c93a8",
            near: "#40566b",
            water: "#4f8ab0",
            light: "#ffffff",
        },
    }
}

/// A tiny deterministic generator (xorshift64*), seeded per post.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next() % u64::from(hi.saturating_sub(lo).max(1))) as u32
    }
}

fn hills(svg: &mut String, rng: &mut Rng, base: u32, amp: u32, fill: &str) {
    let mut d = format!("M0 {HEIGHT} L0 {base}");
    let mut x = 0;
    while x < WIDTH {
        let nx = (x + rng.range(150, 320)).min(WIDTH);
        let y = base.saturating_sub(rng.range(0, amp));
        let _ = write!(
            d,
            " Q{} {} {nx} {}",
            (x + nx) / 2,
            y.saturating_sub(amp / 2),
            base.saturating_sub(rng.range(0, amp / 2))
        );
        x = nx;
    }
    let _ = write!(svg, "<path d=\"{d} L{WIDTH} {HEIGHT} Z\" fill=\"{fill}\"/>");
}

fn skyline(svg: &mut String, rng: &mut Rng, base: u32, fill: &str, windows: Option<&str>) {
    let mut x = 0;
    while x < WIDTH {
        let w = rng.range(50, 130);
        let h = rng.range(90, 330);
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"{w}\" height=\"{}\" fill=\"{fill}\"/>",
            base - h,
            h + (HEIGHT - base)
        );
        if let Some(light) = windows {
            let mut wy = base - h + 14;
            while wy + 14 < base {
                let mut wx = x + 10;
                while wx + 10 < x + w {
                    if rng.range(0, 10) < 4 {
                        let _ = write!(
                            svg,
                            "<rect x=\"{wx}\" y=\"{wy}\" width=\"9\" height=\"12\" fill=\"{light}\" opacity=\"0.85\"/>"
                        );
                    }
                    wx += 20;
                }
                wy += 26;
            }
        }
        x += w + rng.range(0, 14);
    }
}

fn water(svg: &mut String, rng: &mut Rng, top: u32, p: &Palette) {
    let _ = write!(
        svg,
        "<rect x=\"0\" y=\"{top}\" width=\"{WIDTH}\" height=\"{}\" fill=\"{}\"/>",
        HEIGHT - top,
        p.water
    );
    for _ in 0..26 {
        let y = rng.range(top + 10, HEIGHT - 5);
        let x = rng.range(0, WIDTH - 120);
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"3\" rx=\"1.5\" fill=\"{}\" opacity=\"0.35\"/>",
            rng.range(40, 160),
            p.light
        );
    }
}

fn boat(svg: &mut String, x: u32, y: u32, scale: u32, fill: &str, sail: &str) {
    let w = 60 * scale;
    let _ = write!(
        svg,
        "<path d=\"M{x} {y} L{} {y} L{} {} L{} {} Z\" fill=\"{fill}\"/><path d=\"M{} {} L{} {} L{} {y} Z\" fill=\"{sail}\"/>",
        x + w,
        x + w - 10 * scale,
        y + 14 * scale,
        x + 10 * scale,
        y + 14 * scale,
        x + w / 2,
        y - 50 * scale,
        x + w / 2,
        y - 2,
        x + w / 2 + 26 * scale
    );
}

/// An SVG illustration of `scene` in `palette`, varied by `seed`.
pub fn illustration(scene: &str, palette_name: &str, seed: u64) -> String {
    let p = palette(palette_name);
    let mut rng = Rng(seed | 1);
    let mut svg = String::with_capacity(16 * 1024);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\">\
         <defs><linearGradient id=\"sky\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\"><stop offset=\"0\" stop-color=\"{}\"/><stop offset=\"1\" stop-color=\"{}\"/></linearGradient></defs>\
         <rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"url(#sky)\"/>",
        p.sky[0], p.sky[1]
    );
    // Sun or moon.
    let _ = write!(
        svg,
        "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\" opacity=\"0.8\"/>",
        rng.range(150, 1050),
        rng.range(90, 260),
        rng.range(35, 70),
        p.light
    );
    match scene {
        "harbour" => {
            hills(&mut svg, &mut rng, 420, 90, p.far);
            for _ in 0..3 {
                let x = rng.range(100, 1000);
                let _ = write!(
                    svg,
                    "<path d=\"M{x} 470 L{x} 250 L{} 250 L{} 262 L{} 262 L{} 470 Z\" fill=\"{}\"/>",
                    x + 170,
                    x + 170,
                    x + 14,
                    x + 14,
                    p.near
                );
            }
            water(&mut svg, &mut rng, 470, &p);
            for _ in 0..4 {
                boat(
                    &mut svg,
                    rng.range(40, 1050),
                    rng.range(540, 700),
                    1 + rng.range(0, 2),
                    p.near,
                    p.light,
                );
            }
        }
        "city" | "rain" => {
            skyline(&mut svg, &mut rng, 560, p.far, None);
            skyline(&mut svg, &mut rng, 660, p.near, Some(p.light));
            if scene == "rain" {
                for _ in 0..160 {
                    let x = rng.range(0, WIDTH);
                    let y = rng.range(0, HEIGHT);
                    let _ = write!(
                        svg,
                        "<path d=\"M{x} {y} l-14 40\" stroke=\"{}\" stroke-width=\"2\" opacity=\"0.45\"/>",
                        p.light
                    );
                }
            }
        }
        "night" => {
            for _ in 0..60 {
                let _ = write!(
                    svg,
                    "<circle cx=\"{}\" cy=\"{}\" r=\"1.6\" fill=\"#fff\" opacity=\"0.7\"/>",
                    rng.range(0, WIDTH),
                    rng.range(0, 380)
                );
            }
            skyline(&mut svg, &mut rng, 620, p.near, Some(p.light));
        }
        "river" => {
            hills(&mut svg, &mut rng, 430, 120, p.far);
            hills(&mut svg, &mut rng, 560, 80, p.near);
            let _ = write!(
                svg,
                "<path d=\"M{} {HEIGHT} C 500 700, 760 560, 640 470 C 600 440, 700 430, 760 430 L 800 440 C 760 470, 880 600, {} {HEIGHT} Z\" fill=\"{}\"/>",
                rng.range(200, 400),
                rng.range(900, 1150),
                p.water
            );
        }
        "field" | "hills" => {
            hills(&mut svg, &mut rng, 420, 140, p.far);
            hills(&mut svg, &mut rng, 540, 110, p.near);
            if scene == "field" {
                for i in 0..12 {
                    let _ = write!(
                        svg,
                        "<path d=\"M{} {HEIGHT} L600 560\" stroke=\"{}\" stroke-width=\"3\" opacity=\"0.25\"/>",
                        i * 110,
                        p.light
                    );
                }
            }
        }
        "coast" => {
            water(&mut svg, &mut rng, 450, &p);
            let _ = write!(
                svg,
                "<path d=\"M0 300 L260 330 L420 420 L520 560 L600 {HEIGHT} L0 {HEIGHT} Z\" fill=\"{}\"/>",
                p.near
            );
            let _ = write!(
                svg,
                "<path d=\"M0 300 L260 330 L300 360 L0 350 Z\" fill=\"{}\"/>",
                p.far
            );
            boat(
                &mut svg,
                rng.range(700, 1050),
                rng.range(520, 620),
                1,
                p.near,
                p.light,
            );
        }
        "crowd" | "stadium" => {
            if scene == "stadium" {
                let _ = write!(
                    svg,
                    "<rect x=\"0\" y=\"560\" width=\"{WIDTH}\" height=\"240\" fill=\"#3f7d4a\"/><path d=\"M0 640 L{WIDTH} 640\" stroke=\"#fff\" stroke-width=\"4\" opacity=\"0.6\"/>"
                );
                let _ = write!(
                    svg,
                    "<path d=\"M0 260 L{WIDTH} 260 L{WIDTH} 560 L0 560 Z\" fill=\"{}\"/>",
                    p.far
                );
            }
            let top = if scene == "stadium" { 290 } else { 420 };
            let bottom = if scene == "stadium" { 540 } else { HEIGHT };
            let mut y = top;
            while y < bottom {
                let mut x = rng.range(0, 20);
                while x < WIDTH {
                    let shade = if rng.range(0, 2) == 0 { p.near } else { p.far };
                    let r = 10 + (y - top) / 30;
                    let _ = write!(
                        svg,
                        "<circle cx=\"{x}\" cy=\"{y}\" r=\"{r}\" fill=\"{shade}\"/><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{r}\" fill=\"{shade}\"/>",
                        x.saturating_sub(r + 4),
                        y + r,
                        2 * r + 8,
                        3 * r
                    );
                    x += 2 * r + rng.range(6, 22);
                }
                y += 36;
            }
        }
        "interior" => {
            let _ = write!(
                svg,
                "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"{}\"/><rect x=\"380\" y=\"120\" width=\"440\" height=\"300\" fill=\"url(#sky)\" stroke=\"{}\" stroke-width=\"14\"/><path d=\"M600 120 L600 420 M380 270 L820 270\" stroke=\"{}\" stroke-width=\"10\"/>",
                p.far, p.near, p.near
            );
            let _ = write!(
                svg,
                "<rect x=\"0\" y=\"600\" width=\"{WIDTH}\" height=\"200\" fill=\"{}\"/><rect x=\"200\" y=\"520\" width=\"800\" height=\"30\" fill=\"{}\"/><rect x=\"240\" y=\"550\" width=\"24\" height=\"140\" fill=\"{}\"/><rect x=\"936\" y=\"550\" width=\"24\" height=\"140\" fill=\"{}\"/>",
                p.near, p.light, p.near, p.near
            );
        }
        "market" => {
            let colours = [p.light, p.far, "#c0392b", "#2e86ab", "#e9c46a"];
            let mut x = 20;
            while x < WIDTH {
                let w = rng.range(150, 230);
                let c = colours[rng.range(0, colours.len() as u32) as usize];
                let _ = write!(
                    svg,
                    "<rect x=\"{x}\" y=\"430\" width=\"{w}\" height=\"50\" fill=\"{c}\"/><rect x=\"{}\" y=\"480\" width=\"{}\" height=\"180\" fill=\"{}\"/><rect x=\"{}\" y=\"560\" width=\"{}\" height=\"60\" fill=\"{}\"/>",
                    x + 8,
                    w - 16,
                    p.near,
                    x + 16,
                    w - 32,
                    p.far
                );
                x += w + 20;
            }
            let _ = write!(
                svg,
                "<rect x=\"0\" y=\"660\" width=\"{WIDTH}\" height=\"140\" fill=\"{}\"/>",
                p.far
            );
        }
        _ => hills(&mut svg, &mut rng, 500, 120, p.near),
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scene_draws_a_closed_svg() {
        for scene in [
            "harbour", "city", "night", "river", "field", "crowd", "hills", "coast", "interior",
            "stadium", "market", "rain", "unknown",
        ] {
            for pal in ["dawn", "day", "dusk", "night", "storm", "autumn", "spring"] {
                let svg = illustration(scene, pal, 42);
                assert!(
                    svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
                    "{scene}/{pal}"
                );
                assert!(!svg.contains("NaN"));
            }
        }
        assert_ne!(
            illustration("city", "day", 1),
            illustration("city", "day", 2)
        );
    }
}
