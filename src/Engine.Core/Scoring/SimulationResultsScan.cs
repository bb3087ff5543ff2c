using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace NeuronEngine.Scoring;

/// <summary>
/// What a scores.jsonl line needs from one NeuronSimulationResults file, read straight from its UTF-8 bytes with
/// <see cref="Utf8JsonReader"/> (no DOM, no per-token objects): the neuron id, the number of scored explanations, the
/// first explanation's text, its sequences' lengths and its true and expected activations end to end (in rented
/// arrays: <see cref="Dispose"/> gives them back).
/// <para>
/// <see cref="TryScan"/> accepts only what <see cref="SimulationResultsFile.Read"/> accepts and reads the same doubles
/// (the reader's own GetDouble, null as NaN); it checks every field of OpenAI's dataclasses for the type the typed
/// reader demands (so a file the typed reader refuses is refused here too) and answers false for anything unusual
/// (not one line, a duplicate or missing field, a wrong type, an escape it would have to decode, unequal lengths).
/// The caller then reads that file the typed way, which gives the failure its usual reason. Unknown keys are
/// skipped, as the typed reader skips them.
/// </para>
/// </summary>
internal sealed class SimulationResultsScan : IDisposable
{
    private const int MaxPlainNumberLength = 300; // no exponent and fewer digits than this: always a finite double
    // A run of `engine score` is seconds long: its loops are compiled optimised from the first call rather than run
    // unoptimised until tiered compilation catches up (measured: about half the CPU time of a 1,000-file run).
    private const MethodImplOptions Hot = MethodImplOptions.AggressiveOptimization;
    private const int MaxPlainMantissaLength = 200; // fewer digits, and an exponent of at most two digits: finite too

    private double[] _true = [], _expected = [];

    // The bytes being scanned (pinned for the length of TryScan) and where the current reader starts in them: the
    // per-token distributions, two thirds of a file, are checked by a byte loop and the reader resumed after them.
    private unsafe byte* _json;
    private int _jsonLength, _readerStart;

    private int _lineStart, _explanation, _sequence;

    /// <summary>
    /// Keep every explanation's values (not only the first) and where each stored score sits in the bytes
    /// (<see cref="ScoreSpans"/>): what a rescored copy of the file needs (`--write-results`).
    /// </summary>
    public bool KeepAllExplanations { get; init; }

    /// <summary>Per kept explanation, its number of scored sequences (their lengths are in <see cref="SequenceLengths"/>).</summary>
    public List<int> ExplanationSequenceCounts { get; } = [];

    /// <summary>With <see cref="KeepAllExplanations"/>: every stored score's bytes, in the file's order.</summary>
    public List<ScoreSpan> ScoreSpans { get; } = [];

    /// <summary>
    /// Every object holds exactly the fields of OpenAI's dataclass (all present, nothing else): a copy of the bytes with
    /// new scores is then what the typed writer would write, up to the spelling of numbers and the order of keys.
    /// </summary>
    public bool Verbatim { get; private set; }

    /// <summary>The scanned file's length in bytes (set by the reader of the file; a copy checks it is unchanged).</summary>
    public int SourceLength { get; set; }

    public int Layer { get; private set; }
    public int Neuron { get; private set; }
    public int ExplanationCount { get; private set; }

    /// <summary>The first scored explanation's text (null when there is none).</summary>
    public string? FirstExplanation { get; private set; }

    /// <summary>The kept explanations' sequence lengths, in the file's order (the first explanation's first).</summary>
    public List<int> SequenceLengths { get; } = [];

    /// <summary>The kept explanations' true activations, their sequences end to end (the first <see cref="TokenCount"/>).</summary>
    public double[] TrueActivations => _true;

    /// <summary>The first explanation's expected activations, aligned with <see cref="TrueActivations"/>.</summary>
    public double[] ExpectedActivations => _expected;

    public int TokenCount { get; private set; }

    /// <summary>The first explanation's tokens (the first of <see cref="TrueActivations"/>).</summary>
    public int FirstExplanationTokenCount => ExplanationTokens(0, out _);

    /// <summary>
    /// Kept explanation <paramref name="explanation"/>'s tokens; <paramref name="topTokens"/>: those of its top sequences
    /// (OpenAI's layout, the first half, a middle one counted as top). Its sequences start at the sum of the earlier
    /// explanations' counts.
    /// </summary>
    public int ExplanationTokens(int explanation, out int topTokens)
    {
        int first = 0;
        for (int e = 0; e < explanation; e++) first += ExplanationSequenceCounts[e];
        int count = ExplanationSequenceCounts[explanation], top = SimulationScoring.TopSequenceCount(count), tokens = 0;
        topTokens = 0;
        for (int s = 0; s < count; s++)
        {
            tokens += SequenceLengths[first + s];
            if (s < top) topTokens += SequenceLengths[first + s];
        }
        return tokens;
    }

    public void Dispose()
    {
        if (_true.Length > 0) ArrayPool<double>.Shared.Return(_true);
        if (_expected.Length > 0) ArrayPool<double>.Shared.Return(_expected);
        _true = _expected = [];
    }

    /// <summary>
    /// Reads one file's bytes. False when the file is anything but the plain case (see the class); then the scan's
    /// content is meaningless and the file should be read the typed way.
    /// </summary>
    [MethodImpl(Hot)]
    public bool TryScan(ReadOnlySpan<byte> utf8)
    {
        Layer = Neuron = ExplanationCount = TokenCount = 0;
        FirstExplanation = null;
        SequenceLengths.Clear();
        ExplanationSequenceCounts.Clear();
        ScoreSpans.Clear();
        Verbatim = true;
        // OpenAI's reader wants exactly one line: no newline between the first and last non-blank byte.
        int first = 0, last = utf8.Length - 1;
        while (first <= last && IsJsonWhitespace(utf8[first])) first++;
        while (last >= first && IsJsonWhitespace(utf8[last])) last--;
        if (first > last || utf8[first..(last + 1)].Contains((byte)'\n')) return false;
        var line = utf8[first..(last + 1)];
        _lineStart = first;
        unsafe
        {
            fixed (byte* json = line)
            {
                _json = json;
                _jsonLength = line.Length;
                _readerStart = 0;
                try
                {
                    var reader = new Utf8JsonReader(line, isFinalBlock: true, state: default);
                    return reader.Read() && ReadResults(ref reader) && !reader.Read();
                }
                catch (JsonException) { return false; }
                catch (InvalidOperationException) { return false; } // e.g. an explanation that is not valid UTF-8
                finally
                {
                    _json = null;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsJsonWhitespace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';

    // Each Read* starts on the value's first token and ends on its last one.

    [MethodImpl(Hot)]
    private bool ReadResults(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.StartObject) return false;
        bool name = false, id = false, explanations = false;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("dataclass_name"u8)) { if (!Once(ref name) || !ReadDataclassName(ref r)) return false; }
            else if (r.ValueTextEquals("neuron_id"u8)) { if (!Once(ref id) || !r.Read() || !ReadNeuronId(ref r)) return false; }
            else if (r.ValueTextEquals("scored_explanations"u8)) { if (!Once(ref explanations) || !r.Read() || !ReadExplanations(ref r)) return false; }
            else SkipValue(ref r);
        }
        Verbatim &= name;
        return r.TokenType == JsonTokenType.EndObject && id && explanations;
    }

    [MethodImpl(Hot)]
    private bool ReadNeuronId(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.StartObject) return false;
        bool name = false, layer = false, neuron = false;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("dataclass_name"u8)) { if (!Once(ref name) || !ReadDataclassName(ref r)) return false; }
            else if (r.ValueTextEquals("layer_index"u8))
            {
                if (!Once(ref layer) || !r.Read() || r.TokenType != JsonTokenType.Number || !r.TryGetInt32(out int value)) return false;
                Layer = value;
            }
            else if (r.ValueTextEquals("neuron_index"u8))
            {
                if (!Once(ref neuron) || !r.Read() || r.TokenType != JsonTokenType.Number || !r.TryGetInt32(out int value)) return false;
                Neuron = value;
            }
            else SkipValue(ref r);
        }
        Verbatim &= name;
        return layer && neuron;
    }

    [MethodImpl(Hot)]
    private bool ReadExplanations(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.StartArray) return false;
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            _explanation = ExplanationCount++;
            if (!ReadExplanation(ref r, _explanation == 0 || KeepAllExplanations)) return false;
        }
        return true;
    }

    [MethodImpl(Hot)]
    private bool ReadExplanation(ref Utf8JsonReader r, bool keep)
    {
        if (r.TokenType != JsonTokenType.StartObject) return false;
        bool name = false, explanation = false, simulation = false;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("dataclass_name"u8)) { if (!Once(ref name) || !ReadDataclassName(ref r)) return false; }
            else if (r.ValueTextEquals("explanation"u8))
            {
                if (!Once(ref explanation) || !r.Read() || r.TokenType != JsonTokenType.String) return false;
                if (_explanation == 0) FirstExplanation = r.GetString();
            }
            else if (r.ValueTextEquals("scored_simulation"u8)) { if (!Once(ref simulation) || !r.Read() || !ReadScoredSimulation(ref r, keep)) return false; }
            else SkipValue(ref r);
        }
        Verbatim &= name;
        return explanation && simulation;
    }

    [MethodImpl(Hot)]
    private bool ReadScoredSimulation(ref Utf8JsonReader r, bool keep)
    {
        if (r.TokenType != JsonTokenType.StartObject) return false;
        bool name = false, sequences = false, correlation = false, rsquared = false, absolute = false;
        int count = 0;
        _sequence = -1;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("dataclass_name"u8)) { if (!Once(ref name) || !ReadDataclassName(ref r)) return false; }
            else if (r.ValueTextEquals("scored_sequence_simulations"u8))
            {
                if (!Once(ref sequences) || !r.Read() || r.TokenType != JsonTokenType.StartArray) return false;
                while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                {
                    _sequence = count++;
                    if (!ReadScoredSequence(ref r, keep)) return false;
                }
                _sequence = -1;
            }
            else if (!ReadScoreField(ref r, ref correlation, ref rsquared, ref absolute, out bool known)) return false;
            else if (!known) SkipValue(ref r);
        }
        if (keep) ExplanationSequenceCounts.Add(count);
        Verbatim &= name && correlation && rsquared && absolute;
        return sequences;
    }

    [MethodImpl(Hot)]
    private bool ReadScoredSequence(ref Utf8JsonReader r, bool keep)
    {
        if (r.TokenType != JsonTokenType.StartObject) return false;
        bool name = false, simulation = false, correlation = false, rsquared = false, absolute = false;
        int start = TokenCount, tokens = -1, expected = -1, actual = -1;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("dataclass_name"u8)) { if (!Once(ref name) || !ReadDataclassName(ref r)) return false; }
            else if (r.ValueTextEquals("simulation"u8))
            {
                if (!Once(ref simulation) || !r.Read() || !ReadSimulation(ref r, keep ? start : -1, out tokens, out expected)) return false;
            }
            else if (r.ValueTextEquals("true_activations"u8))
            {
                if (actual >= 0 || !r.Read() || !ReadNumbers(ref r, keep ? start : -1, toTrue: true, out actual)) return false;
            }
            else if (!ReadScoreField(ref r, ref correlation, ref rsquared, ref absolute, out bool known)) return false;
            else if (!known) SkipValue(ref r);
        }
        Verbatim &= name && correlation && rsquared && absolute;
        // Both required, and of one length (the typed reader's Validate).
        if (!simulation || actual < 0 || tokens != expected || tokens != actual) return false;
        if (keep)
        {
            SequenceLengths.Add(tokens);
            TokenCount = start + tokens;
        }
        return true;
    }

    /// <param name="keepAt">where the expected activations go in the value arrays, or -1 to check them only</param>
    [MethodImpl(Hot)]
    private bool ReadSimulation(ref Utf8JsonReader r, int keepAt, out int tokens, out int expected)
    {
        tokens = expected = -1;
        if (r.TokenType != JsonTokenType.StartObject) return false;
        bool name = false, scale = false, values = false, probabilities = false, uncalibrated = false;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("dataclass_name"u8)) { if (!Once(ref name) || !ReadDataclassName(ref r)) return false; }
            else if (r.ValueTextEquals("tokens"u8))
            {
                if (tokens >= 0 || !r.Read() || r.TokenType != JsonTokenType.StartArray) return false;
                tokens = 0;
                while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                {
                    if (r.TokenType is not (JsonTokenType.String or JsonTokenType.Null)) return false;
                    tokens++;
                }
            }
            else if (r.ValueTextEquals("expected_activations"u8))
            {
                if (expected >= 0 || !r.Read() || !ReadNumbers(ref r, keepAt, toTrue: false, out expected)) return false;
            }
            else if (r.ValueTextEquals("activation_scale"u8))
            {
                if (!Once(ref scale) || !r.Read() || r.TokenType is not (JsonTokenType.String or JsonTokenType.Null)) return false;
            }
            else if (r.ValueTextEquals("distribution_values"u8)) { if (!Once(ref values) || !SkipNumberLists(ref r)) return false; }
            else if (r.ValueTextEquals("distribution_probabilities"u8)) { if (!Once(ref probabilities) || !SkipNumberLists(ref r)) return false; }
            else if (r.ValueTextEquals("uncalibrated_simulation"u8))
            {
                if (!Once(ref uncalibrated) || !r.Read()) return false;
                if (r.TokenType != JsonTokenType.Null && !ReadSimulation(ref r, -1, out _, out _)) return false;
            }
            else SkipValue(ref r);
        }
        Verbatim &= name && scale && values && probabilities && uncalibrated;
        return tokens >= 0 && expected >= 0;
    }

    /// <summary>The three optional scores of OpenAI's scored objects: a number or null (the stored value is not used).</summary>
    [MethodImpl(Hot)]
    private bool ReadScoreField(ref Utf8JsonReader r, ref bool correlation, ref bool rsquared, ref bool absolute, out bool known)
    {
        known = true;
        ScoreField field;
        if (r.ValueTextEquals("ev_correlation_score"u8)) { if (!Once(ref correlation)) return false; field = ScoreField.EvCorrelation; }
        else if (r.ValueTextEquals("rsquared_score"u8)) { if (!Once(ref rsquared)) return false; field = ScoreField.RSquared; }
        else if (r.ValueTextEquals("absolute_dev_explained_score"u8)) { if (!Once(ref absolute)) return false; field = ScoreField.AbsoluteDevExplained; }
        else
        {
            known = false;
            return true;
        }
        if (!r.Read() || !IsNumberOrNull(ref r)) return false;
        if (KeepAllExplanations)
            ScoreSpans.Add(new ScoreSpan(_lineStart + _readerStart + (int)r.TokenStartIndex, r.ValueSpan.Length, _explanation, _sequence, field));
        return true;
    }

    /// <summary>An array of numbers (null read as NaN), stored from <paramref name="keepAt"/> on unless it is -1.</summary>
    [MethodImpl(Hot)]
    private bool ReadNumbers(ref Utf8JsonReader r, int keepAt, bool toTrue, out int count)
    {
        count = 0;
        if (r.TokenType != JsonTokenType.StartArray) return false;
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            if (keepAt < 0)
            {
                if (!IsNumberOrNull(ref r)) return false;
            }
            else
            {
                double value;
                if (r.TokenType == JsonTokenType.Null) value = double.NaN;
                else if (r.TokenType != JsonTokenType.Number || !r.TryGetDouble(out value)) return false;
                Store(toTrue, keepAt + count, value);
            }
            count++;
        }
        return true;
    }

    /// <summary>
    /// The value after the property name <paramref name="r"/> is on: null, or an array whose elements are null or arrays
    /// of numbers / nulls (OpenAI's per-token distributions). Compact plain numbers (as orjson and Python write them)
    /// are checked by <see cref="PlainNumberListsLength"/>, a byte loop, and the reader resumes after them in the state
    /// it would have after reading any value there; anything else goes through the reader token by token.
    /// </summary>
    [MethodImpl(Hot)]
    private unsafe bool SkipNumberLists(ref Utf8JsonReader r)
    {
        int at = _readerStart + (int)r.BytesConsumed; // the reader has consumed the colon
        var rest = new ReadOnlySpan<byte>(_json + at, _jsonLength - at);
        int length = PlainNumberListsLength(rest);
        if (length < 0) return r.Read() && CheckNumberLists(ref r);
        var afterValue = new Utf8JsonReader("null"u8, isFinalBlock: false, r.CurrentState);
        afterValue.Read();
        _readerStart = at + length;
        r = new Utf8JsonReader(rest[length..], isFinalBlock: true, afterValue.CurrentState);
        return true;
    }

    /// <summary>
    /// The length of a compact value `null | [ (null | [ (number | null) (, …)* ] | []) (, …)* ] | []` at the start of
    /// <paramref name="json"/>, with numbers `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]{1,2})?` whose part before the
    /// exponent is under 200 characters (so always a finite double: below 10^299); -1 for anything else (whitespace,
    /// longer exponents or numbers, other values), which the reader then checks.
    /// </summary>
    [MethodImpl(Hot)]
    internal static unsafe int PlainNumberListsLength(ReadOnlySpan<byte> json)
    {
        // A byte loop over two thirds of every file: pointers, so the JIT has no bounds checks to keep. The span ends
        // where the line does; every read below checks p < end first.
        fixed (byte* start = json)
        {
            byte* p = start, end = start + json.Length;
            if (IsNull(p, end)) return 4;
            if (p >= end || *p++ != (byte)'[') return -1;
            if (p < end && *p == (byte)']') return 2;
            while (true)
            {
                // One element: null, or a list of numbers / nulls.
                if (IsNull(p, end)) p += 4;
                else
                {
                    if (p >= end || *p++ != (byte)'[') return -1;
                    if (p < end && *p == (byte)']') p++;
                    else
                    {
                        while (true)
                        {
                            if (IsNull(p, end)) p += 4;
                            else if ((p = PlainNumberEnd(p, end)) == null) return -1;
                            if (p >= end) return -1;
                            byte next = *p++;
                            if (next == (byte)']') break;
                            if (next != (byte)',') return -1;
                        }
                    }
                }
                if (p >= end) return -1;
                byte after = *p++;
                if (after == (byte)']') return (int)(p - start);
                if (after != (byte)',') return -1;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool IsNull(byte* p, byte* end) => end - p >= 4 && System.Runtime.CompilerServices.Unsafe.ReadUnaligned<uint>(p) == BitConverter.ToUInt32("null"u8);

    /// <summary>Where a plain number starting at <paramref name="p"/> ends, or null when there is none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe byte* PlainNumberEnd(byte* p, byte* end)
    {
        byte* start = p;
        if (p < end && *p == (byte)'-') p++;
        if (p >= end) return null;
        if (*p == (byte)'0') p++;
        else if (IsDigit(*p))
            while (++p < end && IsDigit(*p)) { }
        else return null;
        if (p < end && *p == (byte)'.')
        {
            if (++p >= end || !IsDigit(*p)) return null;
            while (++p < end && IsDigit(*p)) { }
        }
        if (p - start >= MaxPlainMantissaLength) return null;
        if (p < end && (*p | 0x20) == (byte)'e')
        {
            // Python writes small probabilities as 1.2e-05: an exponent of one or two digits keeps the value finite.
            if (++p < end && *p is (byte)'+' or (byte)'-') p++;
            int digits = 0;
            while (p < end && IsDigit(*p) && ++digits <= 2) p++;
            if (digits is 0 or > 2) return null;
        }
        return p;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    /// <summary>Null, or an array whose elements are null or arrays of numbers / nulls (OpenAI's per-token distributions).</summary>
    [MethodImpl(Hot)]
    private static bool CheckNumberLists(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null) return true;
        if (r.TokenType != JsonTokenType.StartArray) return false;
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            if (r.TokenType == JsonTokenType.Null) continue;
            if (r.TokenType != JsonTokenType.StartArray) return false;
            while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                if (!IsNumberOrNull(ref r)) return false;
        }
        return true;
    }

    /// <summary>
    /// What the typed reader reads as a double: null, or a number GetDouble accepts. A plain number (no exponent, under
    /// 300 characters) always is, so only the rest are parsed to find out.
    /// </summary>
    [MethodImpl(Hot)]
    private static bool IsNumberOrNull(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null) return true;
        if (r.TokenType != JsonTokenType.Number) return false;
        var text = r.ValueSpan;
        if (!r.HasValueSequence && text.Length < MaxPlainNumberLength && text.IndexOfAny((byte)'e', (byte)'E') < 0) return true;
        return r.TryGetDouble(out _);
    }

    [MethodImpl(Hot)]
    private static bool ReadDataclassName(ref Utf8JsonReader r) => r.Read() && r.TokenType == JsonTokenType.String;

    [MethodImpl(Hot)]
    private void SkipValue(ref Utf8JsonReader r)
    {
        Verbatim = false; // a key OpenAI's dataclasses do not have: the typed writer would drop it
        r.Read();
        r.Skip();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Once(ref bool seen)
    {
        if (seen) return false;
        return seen = true;
    }

    [MethodImpl(Hot)]
    private void Store(bool toTrue, int index, double value)
    {
        ref double[] values = ref toTrue ? ref _true : ref _expected;
        if (index >= values.Length)
        {
            var larger = ArrayPool<double>.Shared.Rent(Math.Max(1024, index * 2));
            values.AsSpan().CopyTo(larger);
            if (values.Length > 0) ArrayPool<double>.Shared.Return(values);
            values = larger;
        }
        values[index] = value;
    }
}

/// <summary>Which of the three stored scores a <see cref="ScoreSpan"/> holds.</summary>
internal enum ScoreField { EvCorrelation, RSquared, AbsoluteDevExplained }

/// <summary>
/// Where one stored score's value (a number or null) sits in a results file's bytes: of explanation
/// <paramref name="Explanation"/>, of its sequence <paramref name="Sequence"/> (-1: the explanation's own scores).
/// </summary>
internal readonly record struct ScoreSpan(int Start, int Length, int Explanation, int Sequence, ScoreField Field);
