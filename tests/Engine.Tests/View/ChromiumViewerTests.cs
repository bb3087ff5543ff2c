using NeuronEngine.Connections;
using NeuronEngine.Records;
using NeuronEngine.Related;
using NeuronEngine.Scoring;
using NeuronEngine.Tests.Support;
using NeuronEngine.View;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;
using NeuronEngine.OpenAi;

namespace NeuronEngine.Tests.View;

/// <summary>
/// The site of <see cref="ViewerSiteFixture"/> opened from file:// in headless Chromium: what a person sees (record
/// counts, a token's colour for a known activation, the explanation, the sort order after a click, the filters,
/// navigation), no console errors, and a screenshot of each page in the test output (screenshots/ beside the tests).
/// </summary>
[Collection(ViewerCollection.Name)]
public class ChromiumViewerTests(ViewerSiteFixture f, ChromiumFixture chromium, ITestOutputHelper output) : IClassFixture<ChromiumFixture>
{
    private IWebDriver Browser => chromium.Driver;

    /// <summary>file:// URL of a page of the site, with an optional query ("layer=0&amp;neuron=1").</summary>
    private string Url(string page, string? query = null) => new Uri(Path.Combine(f.Site, page)).AbsoluteUri + (query is null ? "" : "?" + query);

    private void Open(string page, string? query = null)
    {
        chromium.ConsoleEntries(); // drop anything left from an earlier page
        Browser.Navigate().GoToUrl(Url(page, query));
    }

    private T Wait<T>(Func<IWebDriver, T> until) => new WebDriverWait(Browser, TimeSpan.FromSeconds(20)).Until(until);

    /// <summary>Fails on any console message of level warning or worse (a missing script, a JS exception, a bad CSS value).</summary>
    private void AssertConsoleClean()
    {
        var entries = chromium.ConsoleEntries();
        foreach (var e in entries) output.WriteLine($"console {e.Level}: {e.Message}");
        Assert.DoesNotContain(entries, e => e.Level >= LogLevel.Warning);
    }

    private void Screenshot(string name)
    {
        var shot = ((ITakesScreenshot)Browser).GetScreenshot();
        string dir = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, name + ".png");
        shot.SaveAsFile(path);
        TestContext.Current.AddAttachment(name + ".png", shot.AsByteArray, "image/png");
        output.WriteLine($"screenshot: {path}");
    }

    private List<(int Layer, int Neuron)> TableRows() =>
        [.. Browser.FindElements(By.CssSelector("#neuron-table tbody tr"))
            .Select(r => (int.Parse(r.GetAttribute("data-layer")!), int.Parse(r.GetAttribute("data-neuron")!)))];

    private string Status() => Browser.FindElement(By.Id("status")).Text;

    private NeuronSimulationResults? Results(int layer, int neuron) =>
        SimulationResultsFile.Read(SimulationResultsFile.PathFor(Path.Combine(f.Results, "explanations"), layer, neuron)).Results;

    private double? Score(int layer, int neuron) =>
        Results(layer, neuron)?.ScoredExplanations[0].ScoredSimulation.EvCorrelationScore is double v && double.IsFinite(v) ? v : null;

    [Fact]
    public void TheIndexListsNeuronsSortsByScoreAndFilters()
    {
        Open("index.html");
        Wait(d => Status().StartsWith("showing", StringComparison.Ordinal));
        Assert.Equal("Tiny test model", Browser.FindElement(By.Id("title")).Text);
        Assert.Equal("showing 1–100 of 128 neurons", Status());
        Assert.Equal(100, TableRows().Count);
        Assert.Equal((0, 0), TableRows()[0]);
        Assert.Equal(2, Browser.FindElements(By.CssSelector("#layer-table tbody tr")).Count);
        // A score histogram per layer: its bars' hover texts ("0.6 to 0.7: 2") count the layer's defined scores.
        var histograms = Browser.FindElements(By.CssSelector("#layer-table svg.hist"));
        Assert.Equal(2, histograms.Count);
        for (int layer = 0; layer < 2; layer++)
        {
            var bars = histograms[layer].FindElements(By.TagName("title")).Select(t => t.GetAttribute("textContent")!).ToList();
            Assert.Equal(20, bars.Count);
            Assert.Equal(Enumerable.Range(0, 64).Count(n => Score(layer, n) is not null), bars.Sum(b => int.Parse(b[(b.LastIndexOf(' ') + 1)..])));
        }
        Assert.Single(Browser.FindElements(By.CssSelector("#all-scores svg.hist")));

        // Sort by score: highest first, neurons without a score last.
        var expected = Enumerable.Range(0, 2).SelectMany(l => Enumerable.Range(0, 64).Select(n => (Layer: l, Neuron: n, Score: Score(l, n))))
            .OrderBy(r => r.Score is null).ThenByDescending(r => r.Score ?? 0).ThenBy(r => r.Layer).ThenBy(r => r.Neuron)
            .Select(r => (r.Layer, r.Neuron)).Take(100).ToList();
        Browser.FindElement(By.CssSelector("th[data-sort='ev']")).Click();
        Wait(d => TableRows().SequenceEqual(expected));
        var scores = Browser.FindElements(By.CssSelector("#neuron-table tbody tr td:nth-child(3)")).Take(expected.Count(e => Score(e.Layer, e.Neuron) is not null)).Select(c => double.Parse(c.Text)).ToList();
        Assert.True(scores.Count >= 2, "some neurons have scores");
        Assert.Equal(scores.OrderDescending(), scores);
        Assert.Equal("desc", Browser.FindElement(By.CssSelector("th[data-sort='ev']")).GetAttribute("data-dir"));
        Screenshot("index-sorted-by-score");
        // A second click: lowest first (still missing scores last).
        Browser.FindElement(By.CssSelector("th[data-sort='ev']")).Click();
        Wait(d => Browser.FindElement(By.CssSelector("th[data-sort='ev']")).GetAttribute("data-dir") == "asc");
        var ascending = Browser.FindElements(By.CssSelector("#neuron-table tbody tr td:nth-child(3)")).Select(c => c.Text).TakeWhile(t => t != "—").Select(double.Parse).ToList();
        Assert.Equal(scores.Order(), ascending);

        // The layer filter.
        Browser.FindElement(By.CssSelector("#layer-filter option[value='1']")).Click();
        Wait(d => Status() == "showing 1–64 of 64 neurons");
        Assert.All(TableRows(), r => Assert.Equal(1, r.Layer));

        // The word filter: neurons of layer 1 whose explanation holds the words typed (case-insensitive).
        string explanation = Results(1, 3)!.ScoredExplanations[0].Explanation;
        string word = explanation.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last().Trim('"', '.', ' ');
        var matching = Enumerable.Range(0, 6).Where(n => Results(1, n)!.ScoredExplanations[0].Explanation.Contains(word, StringComparison.OrdinalIgnoreCase))
            .Select(n => (1, n)).ToList();
        var filter = Browser.FindElement(By.Id("text-filter"));
        filter.SendKeys(word.ToUpperInvariant());
        Wait(d => Status() == $"showing 1–{matching.Count} of {matching.Count} neurons");
        Assert.Equal(matching.Order(), TableRows().Order());
        filter.SendKeys(" zzzz-no-such-word");
        Wait(d => Status() == "no neurons match");
        Assert.Empty(TableRows());
        Screenshot("index-filtered");
        AssertConsoleClean();
    }

    [Fact]
    public void ANeuronPageShowsColouredRecordsTheExplanationScoresAndRelatedTokens()
    {
        const int layer = 0, neuron = 1;
        var record = NeuronRecordFile.Read(NeuronRecordFile.PathFor(f.Records, layer, neuron));
        var results = Results(layer, neuron)!;
        Open("neuron.html", $"layer={layer}&neuron={neuron}");
        Wait(d => d.FindElements(By.CssSelector("#top-records .record")).Count > 0);
        Assert.Equal("Layer 0, neuron 1", Browser.FindElement(By.Id("title")).Text);

        // Records: as many as the record file holds, one coloured span per token.
        var top = Browser.FindElements(By.CssSelector("#top-records .record"));
        Assert.Equal(record.MostPositiveActivationRecords.Length, top.Count);
        Assert.Equal(record.RandomSample.Length, Browser.FindElements(By.CssSelector("#random-records .record")).Count);
        Assert.Equal(record.RandomSampleByQuantile.Sum(b => b.Length), Browser.FindElements(By.CssSelector("#quantile-records .record")).Count);
        Assert.Equal($"Top activations ({record.MostPositiveActivationRecords.Length} records)", Browser.FindElement(By.CssSelector("#top-records h2")).Text);

        // A token's colour for its known activation: the neuron's strongest token is the full positive colour, and a
        // token of the second record is coloured in proportion (docs/viewer.md: white → rgb(52, 168, 83) at the maximum).
        double max = NeuronDataWriter.Scale(record);
        var best = record.MostPositiveActivationRecords[0];
        int strongest = Array.IndexOf(best.Activations, best.Activations.Max());
        var span = top[0].FindElements(By.CssSelector(".tok"))[strongest];
        Assert.Equal(best.Tokens.Length, top[0].FindElements(By.CssSelector(".tok")).Count);
        Assert.Equal("rgba(52, 168, 83, 1)", span.GetCssValue("background-color"));
        Assert.Equal(best.Activations[strongest].ToString("F3"), span.GetAttribute("title"));
        var second = record.MostPositiveActivationRecords[1];
        int mid = Enumerable.Range(0, second.Activations.Length).MaxBy(i => second.Activations[i] > 0 && second.Activations[i] < 0.8 * max ? second.Activations[i] : double.MinValue);
        Assert.Equal(ExpectedColour(second.Activations[mid], max), top[1].FindElements(By.CssSelector(".tok"))[mid].GetCssValue("background-color"));
        Assert.Equal(second.Tokens[mid].Replace("\n", "↵").Replace("\t", "⇥"), top[1].FindElements(By.CssSelector(".tok"))[mid].GetAttribute("textContent"));

        // The explanation with its scores, and every scored sequence as true over simulated.
        var e = results.ScoredExplanations[0];
        Assert.Equal(e.Explanation.Trim(), Browser.FindElement(By.CssSelector("#explanations .explanation-text")).Text);
        Assert.Equal(Format(e.ScoredSimulation.EvCorrelationScore), Browser.FindElement(By.CssSelector("td[data-score='ev_correlation_score']")).Text);
        Assert.Equal(Format(e.ScoredSimulation.RsquaredScore), Browser.FindElement(By.CssSelector("td[data-score='rsquared_score']")).Text);
        var sequences = Browser.FindElements(By.CssSelector("#explanations .sequence"));
        Assert.Equal(e.ScoredSimulation.ScoredSequenceSimulations.Length, sequences.Count);
        var firstSim = e.ScoredSimulation.ScoredSequenceSimulations[0];
        Assert.Equal(firstSim.Simulation.Tokens.Length, sequences[0].FindElements(By.CssSelector(".record.simulated .tok")).Count);
        int predicted = Array.FindIndex(firstSim.Simulation.ExpectedActivations, v => v > 0);
        if (predicted >= 0)
            Assert.Equal(ExpectedColour(firstSim.Simulation.ExpectedActivations[predicted], 10),
                sequences[0].FindElements(By.CssSelector(".record.simulated .tok"))[predicted].GetCssValue("background-color"));

        // Statistics and related tokens (from the weights).
        Assert.Equal(Format(record.Mean), Browser.FindElement(By.CssSelector("td[data-stat='mean']")).Text);
        var related = RelatedFiles.ReadOpenAi(RelatedFiles.OpenAiPath(f.Related, layer, neuron));
        var chips = Browser.FindElements(By.CssSelector(".related-list[data-list='output_positive'] .chip"));
        Assert.Equal(related.OutputPositive.Tokens.Length, chips.Count);
        Assert.Equal(related.OutputPositive.Tokens[0] + related.OutputPositive.Strengths[0].ToString("F3"), chips[0].GetAttribute("textContent"));
        // …and which definition they follow (the fixture's `engine related` ran with the default, OpenAI's).
        var definition = Browser.FindElement(By.CssSelector("#related .note"));
        Assert.Equal("openai", definition.GetAttribute("data-definition"));
        Assert.StartsWith("OpenAI's definition: input = wte[t] · diag(ln_2.g) · c_fc[:, n]", definition.Text);
        // The activation-based list of `engine records --token-lookup`, highest average first.
        var lookup = TokenLookupFiles.TryRead(f.Records, layer, neuron)!;
        var lookupChips = Browser.FindElements(By.CssSelector("#token-lookup .chip"));
        Assert.Equal(5, lookupChips.Count);
        Assert.Equal(lookup.Tokens.Select((t, i) => t.Replace("\n", "↵") + lookup.AverageActivations[i].ToString("F3")), lookupChips.Select(c => c.GetAttribute("textContent")));
        Screenshot("neuron-page");
        AssertConsoleClean();
    }

    [Fact]
    public void PreviousNextAndTheJumpBoxNavigate()
    {
        Open("neuron.html", "layer=0&neuron=63");
        Wait(d => d.FindElements(By.CssSelector("#top-records .record")).Count > 0);
        Browser.FindElement(By.Id("next")).Click();
        Wait(d => d.FindElement(By.Id("title")).Text == "Layer 1, neuron 0");
        Wait(d => d.FindElements(By.CssSelector("#top-records .record")).Count > 0);
        Assert.Equal(Url("neuron.html", "layer=1&neuron=0"), Browser.Url);
        Browser.FindElement(By.Id("prev")).Click();
        Wait(d => d.FindElement(By.Id("title")).Text == "Layer 0, neuron 63");

        var box = Browser.FindElement(By.Id("jump-to"));
        box.SendKeys("9/9" + Keys.Enter);
        Wait(d => d.FindElement(By.Id("jump-message")).Text == "no neuron 9/9 in this site");
        box.Clear();
        box.SendKeys("1/5" + Keys.Enter);
        Wait(d => d.FindElement(By.Id("title")).Text == "Layer 1, neuron 5");
        Wait(d => d.FindElements(By.CssSelector("#explanations .explanation-text")).Count == 1);

        // A neuron the site does not have: a message, and no request for a file that is not there.
        Open("neuron.html", "layer=1&neuron=64");
        Wait(d => d.FindElement(By.Id("title")).Text == "No such neuron");
        Assert.Contains("This site has no neuron 1/64.", Browser.FindElement(By.Id("content")).Text);
        // From the index, a row's link opens its neuron.
        Open("index.html");
        Wait(d => Status().StartsWith("showing", StringComparison.Ordinal));
        Browser.FindElement(By.LinkText("0/3")).Click();
        Wait(d => d.FindElement(By.Id("title")).Text == "Layer 0, neuron 3");
        AssertConsoleClean();
    }

    /// <summary>
    /// `--connections`: a neuron page lists its connected neurons as links, with the explanation and score of those the
    /// site explains, and a click walks to the connected neuron's page (whose upstream list leads back).
    /// </summary>
    [Fact]
    public void ANeuronPageLinksItsConnectedNeuronsSoACircuitCanBeWalked()
    {
        var lists = ConnectionsFiles.ReadPacked(Path.Combine(f.Connections, ConnectionsFiles.PackedFileName(0)));
        // A layer-0 neuron whose strongest downstream neuron the site explains (neurons 0–5 of each layer are explained).
        int neuron = Enumerable.Range(0, ViewerSiteFixture.NeuronsPerLayer).First(n =>
            lists.Of(ConnectionList.DownstreamPositive, n).First().Neuron < 6);
        var target = lists.Of(ConnectionList.DownstreamPositive, neuron).First();
        Open("neuron.html", $"layer=0&neuron={neuron}");
        Wait(d => d.FindElements(By.CssSelector("#connections .connection")).Count > 0);
        var down = Browser.FindElements(By.CssSelector("#connections .connection-list[data-list='downstream_positive'] .connection"));
        Assert.Equal(lists.Of(ConnectionList.DownstreamPositive, neuron).Select(c => $"{c.Layer}/{c.Neuron}"),
            down.Select(e => e.FindElement(By.TagName("a")).Text));
        Assert.Equal(Format(target.Weight), down[0].FindElement(By.CssSelector(".weight")).Text);
        var explanation = Results(target.Layer, target.Neuron)!.ScoredExplanations[0];
        Assert.StartsWith(explanation.Explanation, down[0].FindElement(By.CssSelector(".connection-explanation")).Text);
        Assert.Equal("none: layer 0 has no earlier layer",
            Browser.FindElement(By.CssSelector("#connections .connection-list[data-list='upstream_positive'] .note")).Text);
        ((IJavaScriptExecutor)Browser).ExecuteScript("document.getElementById('connections').scrollIntoView()");
        Screenshot("neuron-connections");

        down[0].FindElement(By.TagName("a")).Click();
        Wait(d => d.FindElement(By.Id("title")).Text == $"Layer {target.Layer}, neuron {target.Neuron}");
        Wait(d => d.FindElements(By.CssSelector("#connections .connection")).Count > 0);
        var up = Browser.FindElements(By.CssSelector("#connections .connection-list[data-list='upstream_positive'] a")).Select(a => a.Text).ToList();
        var expectedUp = ConnectionsFiles.ReadPacked(Path.Combine(f.Connections, ConnectionsFiles.PackedFileName(1))).Of(ConnectionList.UpstreamPositive, target.Neuron);
        Assert.Equal(expectedUp.Select(c => $"{c.Layer}/{c.Neuron}"), up);
        Assert.Equal("none: the last layer has no later layer",
            Browser.FindElement(By.CssSelector("#connections .connection-list[data-list='downstream_negative'] .note")).Text);
        AssertConsoleClean();
    }

    /// <summary>The page's colour rule (viewer.js NV.colour) as the browser reports it.</summary>
    private static string ExpectedColour(double activation, double scale)
    {
        // The page sees values with 4 and the scale with 6 significant digits (docs/viewer.md).
        double a = double.Parse(activation.ToString("G4")), s = double.Parse(scale.ToString("G6"));
        double t = Math.Clamp(a / s, -1, 1);
        int[] end = t >= 0 ? [52, 168, 83] : [66, 133, 244];
        var c = end.Select(v => (int)Math.Floor(255 + (v - 255) * Math.Abs(t) + 0.5)).ToArray();
        return $"rgba({c[0]}, {c[1]}, {c[2]}, 1)";
    }

    private static string Format(double? value) => value is double v && double.IsFinite(v)
        ? (v == 0 || Math.Abs(v) >= 0.001 ? v.ToString("F3") : v.ToString("0.00e+0"))
        : "—";

    /// <summary>A revised neuron: each candidate with its scores, the best marked, its test texts as heatmaps by group.</summary>
    [Fact]
    public void ARevisedNeuronShowsItsCandidatesTheBestAndTheirTestTexts()
    {
        chromium.ConsoleEntries();
        Browser.Navigate().GoToUrl(new Uri(Path.Combine(f.RevisedSite, "neuron.html")).AbsoluteUri + "?layer=0&neuron=1");
        Wait(d => d.FindElements(By.CssSelector("#explanations .explanation")).Count == 2);
        var results = SimulationResultsFile.Read(SimulationResultsFile.PathFor(Path.Combine(f.RevisedResults, "explanations"), 0, 1)).Results!;
        var sidecar = SimulationSidecarFile.TryRead(SimulationSidecarFile.PathFor(Path.Combine(f.RevisedResults, "explanations"), 0, 1))!;
        var shown = Browser.FindElements(By.CssSelector("#explanations .explanation"));
        for (int e = 0; e < 2; e++)
        {
            var candidate = sidecar.ScoredExplanations[e].Candidate!;
            Assert.Equal(candidate.Name, shown[e].GetAttribute("data-candidate"));
            Assert.Equal(e == 0, shown[e].FindElements(By.CssSelector(".candidate .best")).Count == 1);
            Assert.Equal(results.ScoredExplanations[e].Explanation.Trim(), shown[e].FindElement(By.CssSelector(".explanation-text")).Text);
            shown[e].FindElement(By.CssSelector("details.probes summary")).Click();
            var fire = shown[e].FindElements(By.CssSelector(".probe-group[data-fire='true'] .record"));
            var notFire = shown[e].FindElements(By.CssSelector(".probe-group[data-fire='false'] .record"));
            Assert.Equal(ViewerSiteFixture.ProbeFire.Length, fire.Count);
            Assert.Equal(ViewerSiteFixture.ProbeNotFire.Length, notFire.Count);
            Assert.Equal(ViewerSiteFixture.ProbeFire[0], string.Concat(fire[0].FindElements(By.CssSelector(".tok")).Select(t => t.GetAttribute("textContent"))));
            var first = candidate.ProbeTexts[0];
            var tokens = fire[0].FindElements(By.CssSelector(".tok"));
            Assert.Equal(first.Tokens.Length, tokens.Count);
            var invariant = System.Globalization.CultureInfo.InvariantCulture;
            Assert.Equal(first.Activations.Select(a => double.Parse(a.ToString("G4", invariant), invariant)),
                tokens.Select(t => double.Parse(t.GetAttribute("data-a")!, invariant)));
            Assert.Equal(candidate.GenerationScore!.Auroc!.Value, double.Parse(shown[e].FindElement(By.CssSelector("[data-generation='auroc']")).Text, System.Globalization.CultureInfo.InvariantCulture), 3);
        }
        Screenshot("neuron-revised");
        AssertConsoleClean();
    }
}
