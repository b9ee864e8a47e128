namespace Confide.Training.Internal;

/// <summary>
/// Convolution as a matrix product ("im2row"): for each output pixel one row of C·k·k input values, ordered
/// (channel, ky, kx) like PyTorch's [out, in, k, k] weights; images are height × width × channels.
/// </summary>
internal static class Conv
{
    /// <summary>Writes rows[(n·outH·outW + oy·outW + ox), (c·k + ky)·k + kx] = x[n, oy+ky−p, ox+kx−p, c] (0 outside).</summary>
    public static void Im2Row(ReadOnlySpan<float> x, int batch, int h, int w, int c, int k, int p, Span<float> rows)
    {
        int outH = h + (2 * p) - k + 1;
        int outW = w + (2 * p) - k + 1;
        int kk = c * k * k;
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
                    int j = 0;
                    for (int ch = 0; ch < c; ch++)
                    {
                        for (int ky = 0; ky < k; ky++)
                        {
                            int iy = oy + ky - p;
                            if (iy < 0 || iy >= h)
                            {
                                row.Slice(j, k).Clear();
                                j += k;
                                continue;
                            }

                            int rowBase = iy * w;
                            for (int kx = 0; kx < k; kx++, j++)
                            {
                                int ix = ox + kx - p;
                                row[j] = ix >= 0 && ix < w ? image[((rowBase + ix) * c) + ch] : 0f;
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Row"/>: dx (cleared first) += scatter of row gradients.</summary>
    public static void Row2Im(ReadOnlySpan<float> rows, int batch, int h, int w, int c, int k, int p, Span<float> dx)
    {
        int outH = h + (2 * p) - k + 1;
        int outW = w + (2 * p) - k + 1;
        int kk = c * k * k;
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
                    int j = 0;
                    for (int ch = 0; ch < c; ch++)
                    {
                        for (int ky = 0; ky < k; ky++)
                        {
                            int iy = oy + ky - p;
                            if (iy < 0 || iy >= h)
                            {
                                j += k;
                                continue;
                            }

                            int rowBase = iy * w;
                            for (int kx = 0; kx < k; kx++, j++)
                            {
                                int ix = ox + kx - p;
                                if (ix >= 0 && ix < w)
                                {
                                    image[((rowBase + ix) * c) + ch] += row[j];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>2 × 2 max-pooling with stride 2 (odd edges dropped); records the flat index of each maximum in <paramref name="argmax"/>.</summary>
    public static void MaxPool(ReadOnlySpan<float> x, int batch, int h, int w, int c, Span<float> y, Span<int> argmax)
    {
        int ph = h / 2;
        int pw = w / 2;
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
                        if (x[i01 + ch] > x[best])
                        {
                            best = i01 + ch;
                        }

                        if (x[i10 + ch] > x[best])
                        {
                            best = i10 + ch;
                        }

                        if (x[i11 + ch] > x[best])
                        {
                            best = i11 + ch;
                        }

                        y[o] = x[best];
                        argmax[o] = best;
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
