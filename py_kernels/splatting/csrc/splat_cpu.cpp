// CPU splatting kernels: each Gaussian is evaluated only inside its support box.
//
// Layouts: sigmas [B, N, 3] (sigma_x, sigma_y, rho), coords [B, N, 2] (x, y), colors [B, N, C],
// the rendered map and its gradient [B, H, W, C] (channels last, so the inner loop is contiguous).
// The box test is the inclusive |dx| <= support * sigma_x, |dy| <= support * sigma_y of the
// published renderer, evaluated on the same float pixel positions as the Python versions.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

// Inclusive index range [first, last] of the pixels on one axis that lie within the support;
// first > last when none does (also for NaN or negative sigmas, which draw nothing).
template <typename scalar_t>
void support_range(const std::vector<scalar_t>& axis, scalar_t centre, scalar_t half_width,
                   int64_t* first, int64_t* last) {
  const int64_t size = static_cast<int64_t>(axis.size());
  *first = 0;
  *last = -1;
  if (!(half_width >= 0) || std::isnan(centre)) return;

  // Estimate from the continuous position, widen by one pixel, then apply the exact test.
  const double scale = 0.5 * static_cast<double>(size - 1);
  const double lo = (static_cast<double>(centre) - half_width + 1.0) * scale - 1.0;
  const double hi = (static_cast<double>(centre) + half_width + 1.0) * scale + 1.0;
  int64_t a = static_cast<int64_t>(std::max(0.0, std::min(static_cast<double>(size), std::floor(lo))));
  int64_t b = static_cast<int64_t>(std::max(-1.0, std::min(static_cast<double>(size - 1), std::ceil(hi))));
  while (a <= b && !(std::abs(axis[a] - centre) <= half_width)) ++a;
  while (b >= a && !(std::abs(axis[b] - centre) <= half_width)) --b;
  *first = a;
  *last = b;
}

template <typename scalar_t>
std::vector<scalar_t> pixel_axis(int64_t size) {
  // Computed in double and rounded once, as the published kernel does.
  std::vector<scalar_t> axis(size);
  for (int64_t k = 0; k < size; ++k) axis[k] = static_cast<scalar_t>(2.0 * k / (size - 1) - 1.0);
  return axis;
}

// Per-Gaussian support boxes: [B * N, 4] rows (row_first, row_last, col_first, col_last).
template <typename scalar_t>
std::vector<int64_t> support_boxes(const scalar_t* sigmas, const scalar_t* coords, int64_t count,
                                   const std::vector<scalar_t>& ys, const std::vector<scalar_t>& xs,
                                   scalar_t support) {
  std::vector<int64_t> boxes(count * 4);
  for (int64_t g = 0; g < count; ++g) {
    const scalar_t half_x = support * sigmas[g * 3 + 0];
    const scalar_t half_y = support * sigmas[g * 3 + 1];
    support_range(ys, coords[g * 2 + 1], half_y, &boxes[g * 4 + 0], &boxes[g * 4 + 1]);
    support_range(xs, coords[g * 2 + 0], half_x, &boxes[g * 4 + 2], &boxes[g * 4 + 3]);
  }
  return boxes;
}

template <typename scalar_t>
void render_forward(const scalar_t* sigmas, const scalar_t* coords, const scalar_t* colors,
                    scalar_t* out, int64_t batch, int64_t count, int64_t height, int64_t width,
                    int64_t channels, scalar_t support) {
  const auto ys = pixel_axis<scalar_t>(height);
  const auto xs = pixel_axis<scalar_t>(width);
  const auto boxes = support_boxes(sigmas, coords, batch * count, ys, xs, support);

  // One task per (image, row): rows never share output pixels, so no atomics are needed.
  at::parallel_for(0, batch * height, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / height;
      const int64_t i = task % height;
      scalar_t* row = out + (b * height + i) * width * channels;
      for (int64_t n = 0; n < count; ++n) {
        const int64_t g = b * count + n;
        const int64_t* box = &boxes[g * 4];
        if (i < box[0] || i > box[1] || box[2] > box[3]) continue;

        const scalar_t inv_sx = scalar_t(1) / sigmas[g * 3 + 0];
        const scalar_t inv_sy = scalar_t(1) / sigmas[g * 3 + 1];
        const scalar_t rho = sigmas[g * 3 + 2];
        const scalar_t scale = scalar_t(-0.5) / (scalar_t(1) - rho * rho);
        const scalar_t uy = (ys[i] - coords[g * 2 + 1]) * inv_sy;
        const scalar_t* color = colors + g * channels;
        for (int64_t j = box[2]; j <= box[3]; ++j) {
          const scalar_t ux = (xs[j] - coords[g * 2 + 0]) * inv_sx;
          const scalar_t q = ux * ux - scalar_t(2) * rho * ux * uy + uy * uy;
          const scalar_t v = std::exp(scale * q);
          scalar_t* pixel = row + j * channels;
          for (int64_t c = 0; c < channels; ++c) pixel[c] += v * color[c];
        }
      }
    }
  });
}

template <typename scalar_t>
void render_backward(const scalar_t* sigmas, const scalar_t* coords, const scalar_t* colors,
                     const scalar_t* grad_out, scalar_t* grad_sigmas, scalar_t* grad_coords,
                     scalar_t* grad_colors, int64_t batch, int64_t count, int64_t height,
                     int64_t width, int64_t channels, scalar_t support) {
  using acc_t = double;
  const auto ys = pixel_axis<scalar_t>(height);
  const auto xs = pixel_axis<scalar_t>(width);
  const auto boxes = support_boxes(sigmas, coords, batch * count, ys, xs, support);

  // One task per Gaussian: each owns its gradient rows, so no atomics are needed.
  at::parallel_for(0, batch * count, 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> color_sum(channels);
    for (int64_t g = begin; g < end; ++g) {
      const int64_t b = g / count;
      const int64_t* box = &boxes[g * 4];
      const scalar_t inv_sx = scalar_t(1) / sigmas[g * 3 + 0];
      const scalar_t inv_sy = scalar_t(1) / sigmas[g * 3 + 1];
      const scalar_t rho = sigmas[g * 3 + 2];
      const scalar_t a = scalar_t(1) / (scalar_t(1) - rho * rho);
      const scalar_t* color = colors + g * channels;
      std::fill(color_sum.begin(), color_sum.end(), acc_t(0));

      // With v the Gaussian's weight at a pixel and g the cotangent projected on its color,
      // dv/dx = a v (ux - rho uy) / sigma_x, dv/dsigma_x = a v (ux - rho uy) ux / sigma_x,
      // symmetrically in y, and dv/drho = v a (ux uy - rho a q): accumulate the sums and
      // apply the per-Gaussian factors once at the end.
      acc_t sum_px = 0, sum_pxux = 0, sum_py = 0, sum_pyuy = 0, sum_rho_a = 0, sum_rho_b = 0;
      for (int64_t i = box[0]; i <= box[1] && box[2] <= box[3]; ++i) {
        const scalar_t uy = (ys[i] - coords[g * 2 + 1]) * inv_sy;
        const scalar_t* grad_row = grad_out + (b * height + i) * width * channels;
        for (int64_t j = box[2]; j <= box[3]; ++j) {
          const scalar_t ux = (xs[j] - coords[g * 2 + 0]) * inv_sx;
          const scalar_t q = ux * ux - scalar_t(2) * rho * ux * uy + uy * uy;
          const scalar_t v = std::exp(scalar_t(-0.5) * a * q);
          const scalar_t* grad_pixel = grad_row + j * channels;
          acc_t projected = 0;
          for (int64_t c = 0; c < channels; ++c) {
            projected += static_cast<acc_t>(grad_pixel[c]) * color[c];
            color_sum[c] += static_cast<acc_t>(v) * grad_pixel[c];
          }
          const acc_t gv = projected * v;
          const acc_t px = gv * (ux - rho * uy);
          const acc_t py = gv * (uy - rho * ux);
          sum_px += px;
          sum_pxux += px * ux;
          sum_py += py;
          sum_pyuy += py * uy;
          sum_rho_a += gv * ux * uy;
          sum_rho_b += gv * q;
        }
      }
      for (int64_t c = 0; c < channels; ++c) grad_colors[g * channels + c] = static_cast<scalar_t>(color_sum[c]);
      grad_coords[g * 2 + 0] = static_cast<scalar_t>(a * inv_sx * sum_px);
      grad_coords[g * 2 + 1] = static_cast<scalar_t>(a * inv_sy * sum_py);
      grad_sigmas[g * 3 + 0] = static_cast<scalar_t>(a * inv_sx * sum_pxux);
      grad_sigmas[g * 3 + 1] = static_cast<scalar_t>(a * inv_sy * sum_pyuy);
      grad_sigmas[g * 3 + 2] = static_cast<scalar_t>(a * sum_rho_a - acc_t(rho) * a * a * sum_rho_b);
    }
  });
}

void check(const torch::Tensor& t, const char* name, int64_t last) {
  TORCH_CHECK(t.device().is_cpu(), name, " must be a CPU tensor");
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
  TORCH_CHECK(t.dim() == 3 && (last < 0 || t.size(2) == last), name, " has an unexpected shape");
}

}  // namespace

// Returns the rendered map [B, H, W, C].
torch::Tensor splat_forward(torch::Tensor sigmas, torch::Tensor coords, torch::Tensor colors,
                            int64_t height, int64_t width, double support) {
  check(sigmas, "sigmas", 3);
  check(coords, "coords", 2);
  check(colors, "colors", -1);
  const int64_t batch = sigmas.size(0), count = sigmas.size(1), channels = colors.size(2);
  auto out = torch::zeros({batch, height, width, channels}, colors.options());
  AT_DISPATCH_FLOATING_TYPES(sigmas.scalar_type(), "splat_forward", [&] {
    render_forward<scalar_t>(sigmas.data_ptr<scalar_t>(), coords.data_ptr<scalar_t>(),
                             colors.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), batch, count,
                             height, width, channels, static_cast<scalar_t>(support));
  });
  return out;
}

// Returns the gradients {sigmas, coords, colors} for a cotangent grad_out [B, H, W, C].
std::vector<torch::Tensor> splat_backward(torch::Tensor sigmas, torch::Tensor coords,
                                          torch::Tensor colors, torch::Tensor grad_out,
                                          double support) {
  check(sigmas, "sigmas", 3);
  check(coords, "coords", 2);
  check(colors, "colors", -1);
  TORCH_CHECK(grad_out.is_contiguous() && grad_out.dim() == 4, "grad_out must be a contiguous [B, H, W, C]");
  const int64_t batch = sigmas.size(0), count = sigmas.size(1), channels = colors.size(2);
  const int64_t height = grad_out.size(1), width = grad_out.size(2);
  auto grad_sigmas = torch::zeros_like(sigmas);
  auto grad_coords = torch::zeros_like(coords);
  auto grad_colors = torch::zeros_like(colors);
  AT_DISPATCH_FLOATING_TYPES(sigmas.scalar_type(), "splat_backward", [&] {
    render_backward<scalar_t>(sigmas.data_ptr<scalar_t>(), coords.data_ptr<scalar_t>(),
                              colors.data_ptr<scalar_t>(), grad_out.data_ptr<scalar_t>(),
                              grad_sigmas.data_ptr<scalar_t>(), grad_coords.data_ptr<scalar_t>(),
                              grad_colors.data_ptr<scalar_t>(), batch, count, height, width,
                              channels, static_cast<scalar_t>(support));
  });
  return {grad_sigmas, grad_coords, grad_colors};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("splat_forward", &splat_forward, "Render Gaussians to [B, H, W, C] (CPU, support boxes)");
  m.def("splat_backward", &splat_backward, "Gradients of the CPU splatting renderer");
}
