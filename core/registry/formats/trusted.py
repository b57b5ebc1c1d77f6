"""Charter's own list of types a skops file may contain.

A skops file names the types it needs; skops refuses any type that is not trusted. Charter
passes this explicit, reviewed list - never the list of types the file itself asks for
(``skops.io.get_untrusted_types``), which would trust whatever the file's author chose.
Besides, every scikit-learn type in a file must be on this list (skops alone would trust every
scikit-learn estimator). To accept a new type, a reviewer adds it here with a test.

The two tree types deserve a note: skops does not trust them by default because a crafted file can
hold out-of-range node indices that crash the process at ``predict``. Charter trusts them because
tree ensembles are the staple of credit-risk models; describing a model does not call predict,
and evaluation runs on artifacts that passed import review.
"""

from __future__ import annotations

_LINEAR = [
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._logistic.LogisticRegressionCV",
    "sklearn.linear_model._base.LinearRegression",
    "sklearn.linear_model._ridge.Ridge", "sklearn.linear_model._ridge.RidgeCV",
    "sklearn.linear_model._ridge.RidgeClassifier", "sklearn.linear_model._ridge.RidgeClassifierCV",
    "sklearn.linear_model._coordinate_descent.Lasso",
    "sklearn.linear_model._coordinate_descent.LassoCV",
    "sklearn.linear_model._coordinate_descent.ElasticNet",
    "sklearn.linear_model._coordinate_descent.ElasticNetCV",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.linear_model._stochastic_gradient.SGDRegressor",
    "sklearn.linear_model._glm.glm.PoissonRegressor",
    "sklearn.linear_model._glm.glm.GammaRegressor",
    "sklearn.linear_model._glm.glm.TweedieRegressor",
    "sklearn.linear_model._huber.HuberRegressor",
    "sklearn.linear_model._quantile.QuantileRegressor",
    "sklearn.naive_bayes.GaussianNB",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.dummy.DummyClassifier", "sklearn.dummy.DummyRegressor",
]
_TREES = [
    "sklearn.tree._classes.DecisionTreeClassifier", "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._gb.GradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._weight_boosting.AdaBoostClassifier",
    "sklearn.ensemble._bagging.BaggingClassifier",
    "sklearn.ensemble._voting.VotingClassifier", "sklearn.ensemble._voting.VotingRegressor",
    "sklearn.ensemble._stacking.StackingClassifier",
    "sklearn.ensemble._stacking.StackingRegressor",
    "sklearn.calibration.CalibratedClassifierCV", "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
]
# Losses and links the gradient-boosting models keep as fitted state.
_LOSSES = [
    *(f"sklearn._loss.link.{n}" for n in ("HalfLogitLink", "IdentityLink", "Interval",
                                          "LogitLink", "LogLink", "MultinomialLogit")),
    *(f"sklearn._loss.loss.{n}" for n in ("AbsoluteError", "ExponentialLoss", "HalfBinomialLoss",
                                          "HalfGammaLoss", "HalfMultinomialLoss",
                                          "HalfPoissonLoss", "HalfSquaredError", "HuberLoss",
                                          "PinballLoss")),
    *(f"sklearn._loss._loss.Cy{n}" for n in ("AbsoluteError", "ExponentialLoss",
                                             "HalfBinomialLoss", "HalfGammaLoss",
                                             "HalfMultinomialLoss", "HalfPoissonLoss",
                                             "HalfSquaredError", "HuberLoss", "PinballLoss")),
]
_COMPOSITION = [
    "sklearn.pipeline.Pipeline", "sklearn.pipeline.FeatureUnion",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.compose._target.TransformedTargetRegressor",
]
_PREPROCESSING = [
    *(f"sklearn.preprocessing._data.{n}" for n in ("StandardScaler", "MinMaxScaler",
                                                   "MaxAbsScaler", "RobustScaler",
                                                   "QuantileTransformer", "PowerTransformer",
                                                   "Binarizer", "Normalizer")),
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._target_encoder.TargetEncoder",
    "sklearn.preprocessing._discretization.KBinsDiscretizer",
    "sklearn.preprocessing._polynomial.SplineTransformer",
    "sklearn.preprocessing._polynomial.PolynomialFeatures",
    "sklearn.preprocessing._label.LabelEncoder", "sklearn.preprocessing._label.LabelBinarizer",
    # Its ``func`` is audited on its own: only numpy/scipy ufuncs pass, never custom code.
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.impute._base.SimpleImputer", "sklearn.impute._base.MissingIndicator",
    "sklearn.impute._knn.KNNImputer",
    "sklearn.feature_selection._variance_threshold.VarianceThreshold",
    "sklearn.feature_selection._univariate_selection.SelectKBest",
    "sklearn.feature_selection._from_model.SelectFromModel",
]
# Types skops does not trust by default but fitted estimators hold (e.g. OneHotEncoder's dtype).
_NUMPY = ["numpy.dtype"]

CHARTER_TRUSTED_TYPES: tuple[str, ...] = tuple(
    _LINEAR + _TREES + _LOSSES + _COMPOSITION + _PREPROCESSING + _NUMPY)
