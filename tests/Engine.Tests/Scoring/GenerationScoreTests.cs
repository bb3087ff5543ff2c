using NeuronEngine.Scoring;

namespace NeuronEngine.Tests.Scoring;

/// <summary>The generation score against values worked out by hand.</summary>
public class GenerationScoreTests
{
    [Fact]
    public void FractionsAndAurocMatchAHandComputation()
    {
        // should fire: 3, 1, 2, 2; should not: 0, 2, 0.5; threshold 1.5.
        // Above 1.5: fire 3, 2, 2 → 3/4; not 2 → 1/3.
        // Pairs (4 × 3 = 12): 3 beats all three → 3; 1 beats 0 and 0.5 → 2; each 2 beats 0 and 0.5 and ties 2 → 2.5, twice → 5.
        // AUROC = (3 + 2 + 5) / 12 = 10/12.
        var score = GenerationScore.Compute([3, 1, 2, 2], [0, 2, 0.5], 1.5)!;
        Assert.Equal(1.5, score.Threshold);
        Assert.Equal(4, score.ShouldFireTexts);
        Assert.Equal(3, score.ShouldNotFireTexts);
        Assert.Equal(0.75, score.ShouldFireAbove);
        Assert.Equal(1.0 / 3, score.ShouldNotFireAbove!.Value, 12);
        Assert.Equal(10.0 / 12, score.Auroc!.Value, 12);
    }

    [Fact]
    public void AValueAtTheThresholdIsNotAboveIt()
    {
        var score = GenerationScore.Compute([1.5, 1.6], [1.5], 1.5)!;
        Assert.Equal(0.5, score.ShouldFireAbove);
        Assert.Equal(0.0, score.ShouldNotFireAbove);
        Assert.Equal(0.75, score.Auroc); // 1.5 ties 1.5 (1/2), 1.6 beats it (1): 1.5 / 2
    }

    [Fact]
    public void AllTiesGiveOneHalfAndPerfectSeparationOne()
    {
        Assert.Equal(0.5, GenerationScore.Compute([2, 2], [2, 2, 2], 1)!.Auroc);
        Assert.Equal(1.0, GenerationScore.Compute([5, 4], [1, 0, -0.1], 1)!.Auroc);
        Assert.Equal(0.0, GenerationScore.Compute([0], [1], 1)!.Auroc);
    }

    [Fact]
    public void EmptySetsGiveNulls()
    {
        Assert.Null(GenerationScore.Compute([], [], 1));
        var fireOnly = GenerationScore.Compute([2, 0], [], 1)!;
        Assert.Equal(0.5, fireOnly.ShouldFireAbove);
        Assert.Null(fireOnly.ShouldNotFireAbove);
        Assert.Null(fireOnly.Auroc);
    }
}
