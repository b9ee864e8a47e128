using System.Numerics.Tensors;

namespace Confide.Training.Internal;

/// <summary>
/// Convolution as a matrix product ("im2row"): for each output pixel one row of k·k·C input values, ordered
/// (ky, kx, channel) to match weights stored [out, k, k, in]; images are height × width × channels. With channels last,
/// each kernel row of a patch is one contiguous run of k·C input values, so building a row is a few block copies.
/// </summary>
/// <remarks>Index arithmetic is unchecked: every bound follows from the buffer sizes the workspace allocated.</remarks>
internal static class Conv
{
    /// <summary>rows[(n·outH·outW + oy·outW + ox), (ky·k + kx)·C + c] = x[n, oy+ky−p, ox+kx−p, c] (0 outside).</summary>
    public static void Im2Row(ReadOnlySpan<float> x, int batch, int h, int w, int c, int k, int p, Span<float> rows)
    {
        if (c == 1)
        {
            // One channel: runs are only k values long, too short for block copies to pay; copy element by element.
            Im2RowSingleChannel(x, batch, h, w, k, p, rows);
            return;
        }

        unchecked
        {
            int outH = h + (2 * p) - k + 1;
            int outW = w + (2 * p) - k + 1;
            int kk = k * k * c;
            int kc = k * c;
            int imageSize = h * w * c;
            int r = 0;
            for (int n = 0; n < batch; n++)
            {
                var image = x.Slice(n * imageSize, imageSize);
                for (int oy = 0; oy < outH; oy++)
                {
                    for (int ox = 0; ox < outW; ox++, r++)
                    {
                        var row = rows.Slice(r * kk, kk);
                        int kx0 = Math.Max(0, p - ox);
                        int kx1 = Math.Min(k, w + p - ox);
                        for (int ky = 0; ky < k; ky++)
                        {
                            var segment = row.Slice(ky * kc, kc);
                            int iy = oy + ky - p;
                            if (iy < 0 || iy >= h || kx1 <= kx0)
                            {
                                segment.Clear();
                                continue;
                            }

                            segment[..(kx0 * c)].Clear();
                            image.Slice(((iy * w) + ox + kx0 - p) * c, (kx1 - kx0) * c).CopyTo(segment[(kx0 * c)..]);
                            segment[(kx1 * c)..].Clear();
                        }
                    }
                }
            }
        }
    }

    private static unsafe void Im2RowSingleChannel(ReadOnlySpan<float> x, int batch, int h, int w, int k, int p, Span<float> rows)
    {
        unchecked
        {
            int outH = h + (2 * p) - k + 1;
            int outW = w + (2 * p) - k + 1;
            int kk = k * k;
            if (x.Length < batch * h * w || rows.Length < batch * outH * outW * kk)
            {
                throw new ArgumentException("Im2Row: buffers too short.");
            }

            fixed (float* px = x, pr = rows)
            {
                float* row = pr;
                for (int n = 0; n < batch; n++)
                {
                    float* image = px + (n * h * w);
                    for (int oy = 0; oy < outH; oy++)
                    {
                        for (int ox = 0; ox < outW; ox++, row += kk)
                        {
                            for (int ky = 0; ky < k; ky++)
                            {
                                int iy = oy + ky - p;
                                float* dst = row + (ky * k);
                                if (iy < 0 || iy >= h)
                                {
                                    for (int kx = 0; kx < k; kx++)
                                    {
                                        dst[kx] = 0;
                                    }

                                    continue;
                                }

                                float* src = image + (iy * w);
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int ix = ox + kx - p;
                                    dst[kx] = ix >= 0 && ix < w ? src[ix] : 0f;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Row"/>: dx is cleared, then each row is added back where it was read.</summary>
    public static void Row2Im(ReadOnlySpan<float> rows, int batch, int h, int w, int c, int k, int p, Span<float> dx)
    {
        unchecked
        {
            int outH = h + (2 * p) - k + 1;
            int outW = w + (2 * p) - k + 1;
            int kk = k * k * c;
            int kc = k * c;
            int imageSize = h * w * c;
            dx[..(batch * imageSize)].Clear();
            int r = 0;
            for (int n = 0; n < batch; n++)
            {
                var image = dx.Slice(n * imageSize, imageSize);
                for (int oy = 0; oy < outH; oy++)
                {
                    for (int ox = 0; ox < outW; ox++, r++)
                    {
                        var row = rows.Slice(r * kk, kk);
                        int kx0 = Math.Max(0, p - ox);
                        int kx1 = Math.Min(k, w + p - ox);
                        if (kx1 <= kx0)
                        {
                            continue;
                        }

                        for (int ky = 0; ky < k; ky++)
                        {
                            int iy = oy + ky - p;
                            if (iy < 0 || iy >= h)
                            {
                                continue;
                            }

                            var target = image.Slice(((iy * w) + ox + kx0 - p) * c, (kx1 - kx0) * c);
                            TensorPrimitives.Add(target, row.Slice((ky * kc) + (kx0 * c), target.Length), target);
                        }
                    }
                }
            }
        }
    }

    /// <summary>2 × 2 max-pooling with stride 2 (odd edges dropped); records the flat index of each maximum in <paramref name="argmax"/>.</summary>
    public static unsafe void MaxPool(ReadOnlySpan<float> x, int batch, int h, int w, int c, Span<float> y, Span<int> argmax)
    {
        unchecked
        {
            int ph = h / 2;
            int pw = w / 2;
            if (x.Length < batch * h * w * c || y.Length < batch * ph * pw * c || argmax.Length < batch * ph * pw * c)
            {
                throw new ArgumentException("MaxPool: buffers too short.");
            }

            fixed (float* px0 = x, py0 = y)
            fixed (int* pa0 = argmax)
            {
                int o = 0;
                for (int n = 0; n < batch; n++)
                {
                    int imageBase = n * h * w * c;
                    for (int py = 0; py < ph; py++)
                    {
                        for (int px = 0; px < pw; px++)
                        {
                            int i00 = imageBase + ((((2 * py) * w) + (2 * px)) * c);
                            int i01 = i00 + c;
                            int i10 = i00 + (w * c);
                            int i11 = i10 + c;
                            for (int ch = 0; ch < c; ch++, o++)
                            {
                                int best = i00 + ch;
                                float value = px0[best];
                                if (px0[i01 + ch] > value)
                                {
                                    best = i01 + ch;
                                    value = px0[best];
                                }

                                if (px0[i10 + ch] > value)
                                {
                                    best = i10 + ch;
                                    value = px0[best];
                                }

                                if (px0[i11 + ch] > value)
                                {
                                    best = i11 + ch;
                                    value = px0[best];
                                }

                                py0[o] = value;
                                pa0[o] = best;
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="MaxPool"/>: dx (cleared over <paramref name="inputLength"/>) gets each dy at its argmax.</summary>
    public static void MaxPoolBackward(ReadOnlySpan<float> dy, ReadOnlySpan<int> argmax, int outputLength, Span<float> dx, int inputLength)
    {
        dx[..inputLength].Clear();
        for (int o = 0; o < outputLength; o++)
        {
            dx[argmax[o]] += dy[o];
        }
    }
}
